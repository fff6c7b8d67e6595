"""Physically pruned models equal masked full models."""

import numpy as np
import pytest

from fastformers_tf.models import TextClassifier
from fastformers_tf.prune import PrunePlan, prune
from tests import tiny


def batch_mask(sizes, kept, batch_size):
    """`[batch_size, sum(sizes)]`: 1 for kept units, 0 for removed ones."""
    mask = np.concatenate([np.isin(np.arange(n), k) for n, k in zip(sizes, kept, strict=True)])
    return np.tile(mask.astype(np.float32)[None, :], (batch_size, 1))


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet"])
def test_zero_masks_equal_physically_pruned_model(family):
    # Random biases and LayerNorms: a bias sliced with the wrong columns, or a LayerNorm left behind, shows.
    encoder = tiny.randomize(tiny.encoder(family, activation="relu" if family == "roberta" else "gelu"), seed=7)
    plan = PrunePlan(**tiny.UNEVEN_PLAN)  # layer 2 keeps no head and no unit
    pruned = prune(encoder, plan)
    masked = encoder.with_options(mask_inputs=True)
    inputs = encoder.dummy_inputs(batch_size=3, seq_len=9)
    head_mask = batch_mask(encoder.config.num_heads, plan.heads, 3)
    ffn_mask = batch_mask(encoder.config.intermediate_dim, plan.ffn_units, 3)
    expected = masked({**inputs, "head_mask": head_mask, "ffn_mask": ffn_mask})["sequence_output"].numpy()
    np.testing.assert_allclose(pruned(inputs)["sequence_output"].numpy(), expected, atol=1e-5)
    # The plan really removed something: the unmasked full model differs.
    assert np.abs(encoder(inputs)["sequence_output"].numpy() - expected).max() > 1e-3


def test_prune_returns_new_model_and_keeps_input():
    encoder = tiny.encoder()
    before = [w.numpy().copy() for w in encoder.weights]
    pruned = prune(encoder, PrunePlan(**tiny.UNEVEN_PLAN))
    assert pruned is not encoder and encoder.config.num_heads == [4, 4, 4]
    for w, b in zip(encoder.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)


def test_prune_classifier_keeps_head():
    model = TextClassifier(tiny.encoder(), num_classes=2)
    pruned = prune(model, PrunePlan(heads=[[0, 1, 2, 3]] * 3, ffn_units=[list(range(37))] * 3))
    inputs = model.encoder.dummy_inputs()
    np.testing.assert_allclose(pruned(inputs).numpy(), model(inputs).numpy(), atol=1e-6)


def test_mpnet_pruning_tracks_relative_bias_columns():
    pruned = prune(tiny.encoder("mpnet"), PrunePlan(**tiny.UNEVEN_PLAN))
    assert pruned.config.head_ids == [[0, 1], [0, 2, 3], []]
    twice = prune(pruned, PrunePlan(heads=[[1], [0, 2], []], ffn_units=[[0], [0], []]))
    assert twice.config.head_ids == [[1], [0, 3], []]
    assert twice.position_bias_layer.embeddings.shape == (32, 4)


@pytest.mark.parametrize(
    "heads, message", [([[0, 4], [0], [0]], r"Layer 0: head indices \[0, 4\]"), ([[0]] * 2, "covers 2 layers")]
)
def test_bad_plan_is_a_clear_error(heads, message):
    with pytest.raises(ValueError, match=message):
        prune(tiny.encoder(), PrunePlan(heads=heads, ffn_units=[[0]] * len(heads)))


def test_plan_json_round_trip():
    plan = PrunePlan(**tiny.UNEVEN_PLAN)
    assert PrunePlan.from_json(plan.to_json()) == plan
