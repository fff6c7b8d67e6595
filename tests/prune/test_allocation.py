"""Plans from scores: uniform and global allocations, rounding, budgets, iterative steps, composition."""

import dataclasses

import numpy as np
import pytest

from fastformers_tf.models.config import EncoderConfig
from fastformers_tf.prune import allocation
from fastformers_tf.prune.allocation import layers_cost, make_plan, plan_for_totals, step_targets, unit_cost
from fastformers_tf.prune.importance import Scores
from fastformers_tf.prune.plan import PrunePlan
from tests import tiny

CONFIG = EncoderConfig(vocab_size=99, num_layers=3, hidden_dim=32, num_heads=4, head_dim=8, intermediate_dim=37)


def scores(seed=0, weak_layer=None):
    rng = np.random.default_rng(seed)
    heads = [rng.random(4) for _ in range(3)]
    ffn = [rng.random(37) for _ in range(3)]
    if weak_layer is not None:
        heads[weak_layer] *= 1e-3
        ffn[weak_layer] *= 1e-3
    return Scores(heads, ffn)


@pytest.mark.parametrize("how", ["uniform", "global"])
def test_both_allocations_hit_count_and_fraction_targets_exactly(how):
    s = scores()
    plan = make_plan(s, CONFIG, heads=2, ffn=20, allocation=how)
    assert sum(plan.num_heads) == 6 and sum(plan.intermediate_dim) == 60
    plan = make_plan(s, CONFIG, heads=0.5, ffn=1 / 3, allocation=how)
    # 37 units in all; uniform keeps the same width everywhere, round(37 / 3) = 12.
    assert sum(plan.num_heads) == 6 and sum(plan.intermediate_dim) == (36 if how == "uniform" else 37)
    if how == "uniform":
        assert plan.num_heads == [2, 2, 2]
        assert plan.heads[0] == sorted(np.argsort(-s.heads[0])[:2].tolist())  # each layer's best


def test_global_ranks_across_layers_and_can_empty_a_layer():
    s = scores(weak_layer=1)
    plan = make_plan(s, CONFIG, heads=0.5, ffn=0.5, allocation="global")
    assert plan.num_heads[1] == 0 and plan.intermediate_dim[1] == 0
    assert sum(plan.num_heads) == 6 and sum(plan.intermediate_dim) == 56
    kept = [s.heads[i][h] for i in range(3) for h in plan.heads[i]]
    dropped = [s.heads[i][h] for i in range(3) for h in range(4) if h not in plan.heads[i]]
    assert max(dropped) <= min(kept)  # nothing dropped outscores anything kept


def test_min_heads_keeps_every_layer_alive():
    plan = make_plan(scores(weak_layer=1), CONFIG, heads=0.5, allocation="global", min_heads=1)
    assert plan.num_heads[1] == 1 and sum(plan.num_heads) == 6 and plan.intermediate_dim == [37] * 3
    with pytest.raises(ValueError, match="fewer than min_heads=3"):
        make_plan(scores(), CONFIG, heads=0.5, allocation="global", min_heads=3)


@pytest.mark.parametrize("how", ["uniform", "global"])
def test_ffn_widths_are_multiples(how):
    plan = make_plan(scores(), CONFIG, ffn=0.5, allocation=how, multiple_of=8)
    assert all(w % 8 == 0 for w in plan.intermediate_dim)
    assert sum(plan.intermediate_dim) == (56 if how == "global" else 48)  # 55.5 -> 56 in all; 18.5 -> 16 per layer


@pytest.mark.parametrize("how", ["uniform", "global"])
def test_a_budget_is_met_from_below_within_one_unit_per_layer(how):
    full = layers_cost(CONFIG, CONFIG.num_heads, CONFIG.intermediate_dim)
    plan = make_plan(scores(), CONFIG, allocation=how, params=0.4)
    cost = layers_cost(CONFIG, plan.num_heads, plan.intermediate_dim)
    # The FFN units take what the heads leave: uniform widths round down by under one unit per layer.
    assert 0.4 * full - 3 * unit_cost(CONFIG) <= cost <= 0.4 * full


def test_bad_targets_are_clear_errors():
    with pytest.raises(ValueError, match="allocation='even'"):
        make_plan(scores(), CONFIG, heads=0.5, allocation="even")
    with pytest.raises(ValueError, match="must be whole"):
        make_plan(scores(), CONFIG, heads=2.5)
    with pytest.raises(ValueError, match="do not give them too"):
        make_plan(scores(), CONFIG, heads=0.5, params=0.5)
    with pytest.raises(ValueError, match=r"Scores cover heads \[4, 4, 4\]"):
        make_plan(scores(), EncoderConfig(**{**CONFIG.to_dict(), "num_heads": [2, 4, 4]}), heads=0.5)


def test_step_targets_reach_the_final_totals_evenly():
    assert step_targets(CONFIG, 6, 51, 3) == [(10, 91), (8, 71), (6, 51)]
    assert step_targets(CONFIG, 6, 51, 1) == [(6, 51)]


def test_two_plans_composed_equal_pruning_twice():
    from fastformers_tf.prune import prune

    encoder = tiny.randomize(tiny.encoder(), seed=2)
    first = PrunePlan(heads=[[0, 2, 3], [1, 3], [0, 1, 2, 3]], ffn_units=[range(0, 37, 2), range(30), range(37)])
    second = PrunePlan(heads=[[0, 2], [1], []], ffn_units=[[1, 5, 7], range(0, 30, 3), [36]])
    twice = prune(prune(encoder, first), second)
    once = prune(encoder, first.then(second))
    assert once.config.num_heads == [2, 1, 0] and first.then(second).heads == [[0, 3], [3], []]
    inputs = encoder.dummy_inputs()
    np.testing.assert_allclose(once(inputs)["sequence_output"], twice(inputs)["sequence_output"], atol=1e-6)


def test_summary_counts_layer_parameters():
    plan = PrunePlan(**tiny.UNEVEN_PLAN)
    record = allocation.summary(
        dataclasses.replace(CONFIG, num_heads=plan.num_heads, intermediate_dim=plan.intermediate_dim)
    )
    assert record == {"heads": [2, 3, 0], "ffn": [37, 11, 0], "layer_params": 5 * (4 * 32 * 8 + 24) + 48 * 65}


UNEVEN = EncoderConfig(
    vocab_size=99, num_layers=3, hidden_dim=32, num_heads=[4, 2, 0], intermediate_dim=[37, 11, 0], head_dim=8
)


def random_scores(config, seed=0):
    rng = np.random.default_rng(seed)
    return Scores([rng.random(n) for n in config.num_heads], [rng.random(f) for f in config.intermediate_dim])


def test_uniform_on_uneven_layers_caps_small_layers_and_fills_the_rest():
    plan = make_plan(random_scores(UNEVEN), UNEVEN, heads=3, ffn=0.5)
    assert plan.num_heads == [3, 2, 0]  # 3 per layer, capped at 2 and 0
    assert plan.intermediate_dim == [13, 11, 0]  # 24 of 48 units: the 11-unit layer keeps all, the other 13
    assert sum(make_plan(random_scores(UNEVEN), UNEVEN, heads=3, allocation="global").num_heads) == 5


@pytest.mark.parametrize("how", ["uniform", "global"])
def test_iterative_steps_end_at_the_one_shot_sizes(how):
    from fastformers_tf.prune import prune

    encoder = tiny.encoder(num_heads=[4, 2, 0], intermediate_dim=[37, 11, 0])
    final = make_plan(random_scores(UNEVEN), UNEVEN, heads=2 / 3, ffn=0.5, allocation=how)
    steps = step_targets(UNEVEN, sum(final.num_heads), sum(final.intermediate_dim), 3)
    for step, (heads, units) in enumerate(steps):
        scores_ = random_scores(encoder.config, step)
        encoder = prune(encoder, plan_for_totals(scores_, encoder.config, heads, units, how))
    assert sum(encoder.config.num_heads) == sum(final.num_heads) == 4
    assert sum(encoder.config.intermediate_dim) == sum(final.intermediate_dim) == 24
    if how == "uniform":
        assert encoder.config.num_heads == final.num_heads == [2, 2, 0]
        assert encoder.config.intermediate_dim == final.intermediate_dim == [13, 11, 0]


def test_multiple_of_leaves_a_kind_without_target_whole():
    plan = make_plan(scores(), CONFIG, heads=0.5, allocation="global", multiple_of=10)
    assert plan.intermediate_dim == [37, 37, 37]
    plan = make_plan(scores(), CONFIG, ffn=0.5, multiple_of=10)
    assert plan.num_heads == [4, 4, 4] and plan.intermediate_dim == [20, 20, 20]


@pytest.mark.parametrize("how", ["uniform", "global"])
def test_a_budget_counts_the_heads_min_heads_keeps(how):
    full = layers_cost(CONFIG, CONFIG.num_heads, CONFIG.intermediate_dim)
    plan = make_plan(scores(), CONFIG, params=0.5, min_heads=2, allocation=how)
    assert min(plan.num_heads) >= 2 and layers_cost(CONFIG, plan.num_heads, plan.intermediate_dim) <= 0.5 * full
    with pytest.raises(ValueError, match="below what min_heads=2 keeps"):
        make_plan(scores(), CONFIG, params=0.1, min_heads=2, allocation=how)
