"""Importance scores: known zeros, agreement with finite differences, the teacher loss, bad input."""

import numpy as np
import pytest

from fastformers_tf.data import get_task
from fastformers_tf.prune.importance import importance, per_example_loss, with_masks
from fastformers_tf.train.tasks import TaskData
from tests import tiny
from tests.harness import write_rte


@pytest.fixture
def rte(tmp_path):
    write_rte(tmp_path / "data")
    tokenizer = tiny.tokenizer(str(tmp_path))

    def split(name="train", max_examples=0):
        return TaskData.read(get_task("rte"), name, str(tmp_path / "data"), tokenizer, 16, max_examples=max_examples)

    return split


def model_of_two():
    """A random 2-label classifier over the uneven encoder (heads [2, 3, 0], FFN [37, 11, 0])."""
    return tiny.classifier(num_classes=2, labels=["entailment", "not_entailment"], seed=5)


def test_a_head_or_unit_with_zero_output_weights_scores_exactly_zero(rte):
    model = model_of_two()
    layer0, layer1 = model.encoder.transformer_layers[:2]
    kernel = layer1.attention.output_dense.kernel.numpy()
    kernel[8:16] = 0.0  # head 1 of layer 1 (head_dim 8) writes nothing
    layer1.attention.output_dense.kernel.assign(kernel)
    kernel = layer0.output_dense.kernel.numpy()
    kernel[4] = 0.0  # FFN unit 4 of layer 0 writes nothing
    layer0.output_dense.kernel.assign(kernel)

    scores = importance(model, rte(), batch_size=5, normalize_heads=False, progress=False)
    assert [len(h) for h in scores.heads] == [2, 3, 0] and [len(f) for f in scores.ffn] == [37, 11, 0]
    assert scores.heads[1][1] == 0.0 and scores.ffn[0][4] == 0.0
    others = np.concatenate([scores.heads[0], scores.heads[1][[0, 2]], np.delete(scores.ffn[0], 4), scores.ffn[1]])
    assert (others > 0).all()


def test_scores_match_finite_differences_of_each_example_loss(rte):
    model = model_of_two()
    data = rte(max_examples=5)
    scores = importance(model, data, batch_size=2, normalize_heads=False, progress=False)

    masked = with_masks(model)
    inputs = data.batch_inputs(masked, np.arange(len(data)))  # one padded batch: padding must not matter
    labels = data.features.labels
    heads, units, eps = 5, 48, 1e-2

    def losses(head_mask, ffn_mask):
        batch = {**inputs, "head_mask": head_mask, "ffn_mask": ffn_mask}
        return per_example_loss(masked(batch, training=False), labels=labels).numpy().astype(np.float64)

    ones_h, ones_f = np.ones((len(data), heads), np.float32), np.ones((len(data), units), np.float32)
    for kind, index, expected in (
        ("head", 0, scores.heads[0][0]),
        ("head", 4, scores.heads[1][2]),
        ("ffn", 3, scores.ffn[0][3]),
        ("ffn", 40, scores.ffn[1][3]),
    ):
        diffs = []
        for sign in (1, -1):
            h, f = ones_h.copy(), ones_f.copy()
            (h if kind == "head" else f)[:, index] += sign * eps
            diffs.append(losses(h, f))
        finite = np.mean(np.abs((diffs[0] - diffs[1]) / (2 * eps)))
        np.testing.assert_allclose(expected, finite, rtol=2e-2, atol=1e-5, err_msg=f"{kind} {index}")


def test_the_teacher_loss_needs_no_labels_and_is_refused_flat_at_the_models_own_logits(rte):
    model = model_of_two()
    data = rte("test")  # unlabeled
    with pytest.raises(ValueError, match="unlabeled examples"):
        importance(model, data, progress=False)
    own = data.predict_probs(model, 8, progress=False)
    own_logits = np.log(own)
    with pytest.raises(ValueError, match="the loss is flat in every head and unit"):
        importance(model, data, teacher_logits=own_logits, progress=False)  # scores ~1e-7: float noise
    other = importance(model, data, teacher_logits=own_logits[:, ::-1], progress=False)
    assert np.concatenate(other.heads).min() > 0 and other.info["loss"] == "teacher"


def test_head_scores_are_normalized_per_layer(rte):
    scores = importance(model_of_two(), rte(), progress=False)
    np.testing.assert_allclose([np.linalg.norm(h) for h in scores.heads[:2]], [1.0, 1.0], rtol=1e-6)
    assert scores.info == {"loss": "gold", "split": "train", "examples": 24, "normalized_heads": True}
    labels = 1 - rte().features.labels
    assert importance(model_of_two(), rte(), labels=labels, progress=False).info["loss"] == "labels"
