"""The encoder exports through tf2onnx (opset 18) and fuses in onnxruntime."""

import os

import numpy as np
import onnxruntime as ort
import pytest

from fastformers_tf.export import FusionError, ParityError, check_onnx, export_onnx, optimize_onnx
from fastformers_tf.models import TextClassifier
from fastformers_tf.prune import PrunePlan, prune
from fastformers_tf.runtime.names import to_hf
from tests import tiny


def run_onnx(path, inputs):
    """Runs the file in a plain session, feeding it by Hugging Face's input names, as transformers' clients do."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert (
        {x.name for x in session.get_inputs()}
        == {to_hf(k) for k in inputs}
        <= {
            "input_ids",
            "attention_mask",
            "token_type_ids",
        }
    )
    return session.run(["logits"], {to_hf(k): np.asarray(v) for k, v in inputs.items()})[0]


def check_export(model, tmp_path, batch_shapes):
    encoder = model.encoder
    raw, fused = str(tmp_path / "model.onnx"), str(tmp_path / "model.fused.onnx")
    export_onnx(model, raw)
    counts = optimize_onnx(raw, fused, model)
    for batch_size, seq_len in batch_shapes:  # dynamic batch and sequence axes
        inputs = encoder.dummy_inputs(batch_size, seq_len)
        expected = model(inputs).numpy()
        np.testing.assert_allclose(run_onnx(raw, inputs), expected, atol=1e-4, rtol=0)
        np.testing.assert_allclose(run_onnx(fused, inputs), expected, atol=1e-4, rtol=0)
    return counts


def test_uneven_model_exports_and_fuses_one_attention_per_layer_with_heads(tmp_path):
    encoder = prune(tiny.randomize(tiny.encoder()), PrunePlan(**tiny.UNEVEN_PLAN))
    model = TextClassifier(encoder, num_classes=3)
    counts = check_export(model, tmp_path, [(3, 9), (1, 17)])
    assert counts.get("Attention") == 2  # layers with [2, 3, 0] heads


@pytest.mark.parametrize(
    "num_heads, head_dim, intermediate_dim",
    [
        ([3, 1, 2], 5, [7, 0, 5]),  # head_dim independent of hidden_dim, a single head, no FFN mid-stack
        ([0, 4, 4], 8, [0, 0, 5]),  # empty first layer
        ([4, 0, 1], 8, [7, 5, 0]),
    ],
)
def test_odd_layer_sizes_export_and_fuse(num_heads, head_dim, intermediate_dim, tmp_path):
    encoder = tiny.randomize(tiny.encoder(num_heads=num_heads, head_dim=head_dim, intermediate_dim=intermediate_dim))
    counts = check_export(TextClassifier(encoder, num_classes=2), tmp_path, [(2, 6)])
    assert counts.get("Attention") == sum(n > 0 for n in num_heads)


@pytest.mark.parametrize("family, fused_attention", [("roberta", 3), ("mpnet", 0)])
def test_roberta_and_mpnet_export(family, fused_attention, tmp_path):
    counts = check_export(TextClassifier(tiny.randomize(tiny.encoder(family)), 2), tmp_path, [(2, 9)])
    # MPNet adds its relative position bias before the softmax, a pattern the
    # bert_keras fusion does not match: it runs unfused (and still matches Keras).
    assert counts.get("Attention", 0) == fused_attention


def test_check_onnx_passes_for_the_exported_model_and_names_the_largest_difference_otherwise(tmp_path):
    model = tiny.classifier()
    path = str(tmp_path / "model.onnx")
    export_onnx(model, path)
    report = check_onnx(model, path)
    assert report["max_abs_diff"] < 1e-4 and report["argmax_agreement"] == 1.0 and report["outputs"] == ["logits"]
    other = tiny.classifier(seed=7)  # same sizes, other weights
    with pytest.raises(ParityError, match=r"model\.onnx: outputs \['logits'\] differ from Keras by up to [0-9.e+-]+ "):
        check_onnx(other, path)


def test_encoder_export_checks_both_outputs(tmp_path):
    encoder = prune(tiny.randomize(tiny.encoder()), PrunePlan(**tiny.UNEVEN_PLAN))
    path = str(tmp_path / "encoder.onnx")
    export_onnx(encoder, path)
    report = check_onnx(encoder, path)
    assert report["outputs"] == ["pooled_output", "sequence_output"] and report["argmax_agreement"] is None


def test_optimize_fails_loudly_when_a_layer_with_heads_does_not_fuse(tmp_path):
    # The graph of a [2, 3, 0]-head model fuses 2 Attention nodes; judged against
    # a model that claims heads in all 3 layers, one attention block is unfused.
    model = tiny.classifier()
    raw, fused = str(tmp_path / "model.onnx"), str(tmp_path / "model.opt.onnx")
    export_onnx(model, raw)
    claims_three = TextClassifier(tiny.encoder(num_heads=[2, 3, 1]), num_classes=3)
    with pytest.raises(FusionError, match=r"fused 2 Attention nodes, but the bert model has 3 layers with heads"):
        optimize_onnx(raw, fused, claims_three)
    assert not os.path.exists(fused)
    counts = optimize_onnx(raw, fused, claims_three, require_fusion=False)  # allowed: a warning
    assert counts["Attention"] == 2 and os.path.exists(fused)


def test_a_freshly_initialised_model_is_told_why_it_does_not_fuse(tmp_path):
    model = TextClassifier(tiny.encoder(num_layers=2), num_classes=2)  # zero biases, as Keras initialises them
    raw, fused = str(tmp_path / "model.onnx"), str(tmp_path / "model.opt.onnx")
    export_onnx(model, raw)
    with pytest.raises(
        FusionError, match=r"fused 0 Attention nodes.*bias vectors of the model are all zeros.*--norequire_fusion"
    ):
        optimize_onnx(raw, fused, model)
    counts = optimize_onnx(raw, fused, model, require_fusion=False)
    assert counts.get("Attention", 0) == 0 and os.path.exists(fused)
