"""The pruning stage end to end on a tiny model and tiny RTE files: layout, plan, steps, re-distillation, errors."""

import json
import os
import shutil

import pytest

from fastformers_tf.models import load_model, save_model
from fastformers_tf.prune.plan import PrunePlan
from fastformers_tf.prune.run import prune_model
from fastformers_tf.recipe import RecipeError, load_recipe
from tests import tiny
from tests.distill.test_run import RTE_LABELS
from tests.harness import write_rte


@pytest.fixture
def setup(tmp_path):
    """Tiny RTE files and a tiny random 2-label task model (heads [2, 3, 0], FFN [37, 11, 0])."""
    write_rte(tmp_path / "data")
    model = tiny.classifier(num_classes=2, labels=RTE_LABELS, seed=3)
    save_model(model, str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    return tmp_path


def recipe(tmp_path, *overrides):
    return load_recipe(
        "rte",
        params_override=[
            *tiny.WHOLE_SPLITS,
            f"data_dir={tmp_path / 'data'}",
            f"output_dir={tmp_path / 'run'}",
            f"cache_dir={tmp_path / 'cache'}",
            f"prune.model={tmp_path / 'model'}",
            "prune.batch_size=4",
            "distill.batch_size=4",
            "distill.max_length=16",
            "distill.learning_rate=1e-3",
            "prune.allocation=uniform",
            "prune.multiple_of=1",
            "prune.redistill_epochs=1",
            *overrides,
        ],
    )


def test_layout_plan_and_a_redistillation_from_cached_teacher_logits(setup):
    prune_model(
        recipe(
            setup,
            "prune.target_heads=0.6",
            "prune.target_ffn=0.5",
            "prune.allocation=global",
            "prune.iterations=2",
            "prune.redistill_epochs=1",
        ),
        verbose=0,
    )
    out = setup / "run"
    assert sorted(os.listdir(out)) == ["metrics.json", "pruned", "recipe.yaml", "redistill"]
    pruned = load_model(str(out / "pruned"))
    plan = PrunePlan.from_json((out / "pruned" / "prune_plan.json").read_text())
    assert pruned.encoder.config.num_heads == plan.num_heads and sum(plan.num_heads) == 3  # round(0.6 * 5)
    assert pruned.encoder.config.intermediate_dim == plan.intermediate_dim and sum(plan.intermediate_dim) == 24
    scores = json.loads((out / "pruned" / "importance.json").read_text())
    assert len(scores) == 2  # scored before each step
    # The model is its own teacher here: its predicted classes are the labels (its own KL would be flat).
    assert scores[0]["info"]["loss"] == "labels" and min(scores[0]["heads"][0] + scores[0]["ffn"][1]) > 0
    assert json.loads((out / "pruned" / "prune_targets.json").read_text())["allocation"] == "global"

    metrics = json.loads((out / "metrics.json").read_text())
    assert [s["step"] for s in metrics["steps"]] == [1, 2]
    assert sum(metrics["steps"][0]["heads"]) == 4 and sum(metrics["steps"][1]["heads"]) == 3
    assert metrics["scoring"] == {
        "loss": "labels",
        "split": "train",
        "examples": 24,
        "normalized_heads": True,
        "scored_on_eval_split": False,
    }
    assert metrics["before"]["heads"] == [2, 3, 0] and metrics["plan"] == json.loads(plan.to_json())
    assert set(metrics["after_redistill"]["metrics"]) == {"accuracy"}
    redistill = json.loads((out / "redistill" / "metrics.json").read_text())
    assert redistill["transfer"][0]["teacher_logits_cached"]  # the scorer labelled train already
    assert load_model(str(out / "redistill" / "best")).encoder.config.num_heads == plan.num_heads


def test_uniform_one_shot_without_redistillation(setup):
    shutil.copytree(setup / "model", setup / "copy")  # the same model under another path: still its own teacher
    result = prune_model(
        recipe(setup, "prune.target_heads=0.8", "prune.redistill_epochs=0", f"prune.teacher={setup / 'copy'}"),
        verbose=0,
    )
    # 4 of 5 heads: 2 per layer where layers hold [2, 3, 0], the FFN untouched.
    assert result["after_pruning"]["heads"] == [2, 2, 0] and result["after_pruning"]["ffn"] == [37, 11, 0]
    assert "after_redistill" not in result and not os.path.exists(setup / "run" / "redistill")
    assert result["scoring"]["loss"] == "labels"


def test_scoring_on_the_eval_split_needs_the_flag_and_is_reported(setup):
    with pytest.raises(RecipeError, match="prune.score_split=val is the evaluation split"):
        prune_model(recipe(setup, "prune.target_ffn=0.5", "prune.score_split=val"), verbose=0)
    result = prune_model(
        recipe(
            setup,
            "prune.target_ffn=0.5",
            "prune.score_split=val",
            "prune.allow_eval_scoring=true",
            "prune.redistill_epochs=0",
            "prune.score_loss=gold",
        ),
        verbose=0,
    )
    assert result["scoring"]["scored_on_eval_split"] and result["scoring"]["loss"] == "gold"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["prune.model=''"], "prune.model is empty"),
        ([], "no target"),
        (["prune.target_params=0.5", "prune.target_heads=0.5"], "do not give target_heads"),
        (["prune.allocation=even", "prune.target_heads=0.5"], "prune.allocation='even'"),
        (["prune.target_params=1.5"], r"prune\.target_params=1\.5 .*a fraction in \(0, 1\] or a whole number"),
        (["prune.target_heads=0.01"], r"keep no attention head in any layer"),  # 0.01 of 5 heads: 0
        (["prune.target_params=10"], r"keep no attention head in any layer"),  # 10 parameters
    ],
)
def test_bad_recipes_name_the_key(setup, overrides, message):
    with pytest.raises(RecipeError, match=message):
        prune_model(recipe(setup, *overrides), verbose=0)
    assert not (setup / "run").exists()  # refused before anything was written


def test_sweep_writes_table_json_and_plot(setup):
    from fastformers_tf.prune.sweep import sweep

    record = sweep(recipe(setup, "prune.sweep=[0.6,0.3]", "prune.redistill_epochs=0"), examples=6, rounds=2)
    out = setup / "run"
    assert [r["name"] for r in record["rows"]] == ["unpruned", "60% params", "30% params"]
    assert record["rows"][1]["kept"] <= 0.6 and record["rows"][2]["kept"] <= 0.3
    assert all(r["median_ms"] > 0 for r in record["rows"]) and record["rows"][0]["speedup"] == 1.0
    assert all(0 <= r["int8_accuracy"] <= 1 for r in record["rows"])
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "| 30% params |" in (out / "sweep.md").read_text()
    export = json.loads((out / "params-0.3" / "onnx" / "export.json").read_text())
    heads = load_model(str(out / "params-0.3" / "pruned")).encoder.config.num_heads
    assert export["op_counts"]["onnx/int8"].get("QAttention", 0) == sum(n > 0 for n in heads)


def test_iterative_steps_can_redistil_between_steps(setup):
    result = prune_model(
        recipe(
            setup,
            "prune.target_ffn=0.5",
            "prune.iterations=2",
            "prune.step_redistill_epochs=1",
            "prune.redistill_epochs=0",
        ),
        verbose=0,
    )
    steps = setup / "run" / "steps"
    assert sorted(os.listdir(steps)) == ["step1", "step1-kd"]
    assert "after_redistill" in result["steps"][0] and "after_redistill" not in result["steps"][1]
    assert load_model(str(steps / "step1-kd" / "best")).encoder.config.intermediate_dim == result["steps"][0]["ffn"]
    assert sum(result["after_pruning"]["ffn"]) == 24  # half of [37, 11, 0]
