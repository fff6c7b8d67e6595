"""SkipLayerNormalization written back as Add + LayerNormalization: same outputs, kept apart by the CPU session."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from fastformers_tf.bench import kernels
from fastformers_tf.export import unfuse_skip_layernorm
from fastformers_tf.runtime.onnx_predictor import disabled_optimizers, session_options

HIDDEN = 7


def skip_layernorm_model(inputs, outputs, opset=18):
    return kernels.skip_layernorm_model(HIDDEN, inputs, outputs, opset, epsilon=1e-5)  # not onnxruntime's default


def run(proto, feed, disabled=()):
    session = ort.InferenceSession(proto.SerializeToString(), disabled_optimizers=list(disabled))
    return session.run(None, feed)


@pytest.mark.parametrize(
    "inputs, outputs",
    [
        (["x", "skip", "gamma", "beta", "bias"], ["y"]),  # the BERT fusion's SkipLayerNorm_AddBias
        (["x", "skip", "gamma", "beta"], ["y"]),  # the embeddings' SkipLayerNorm
        (["x", "skip", "gamma", "", "bias"], ["y", "", "", "sum"]),  # no beta; the residual sum used downstream
    ],
)
def test_same_outputs_as_the_fused_node(inputs, outputs):
    fused = skip_layernorm_model(inputs, outputs)
    unfused = unfuse_skip_layernorm(fused)
    assert [n.op_type for n in fused.graph.node] == ["SkipLayerNormalization"]  # the input is left as it was
    ops = [n.op_type for n in unfused.graph.node]
    assert ops == ["Add"] * (1 + ("bias" in inputs)) + ["LayerNormalization"]
    onnx.checker.check_model(unfused)
    rng = np.random.default_rng(1)
    feed = {name: rng.normal(size=(3, 5, HIDDEN)).astype(np.float32) for name in ("x", "skip")}
    expected = run(fused, feed)
    actual = run(unfused, feed, ["SkipLayerNormFusion"])
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-5)
    if "sum" in outputs:
        bias = numpy_helper.to_array(next(i for i in fused.graph.initializer if i.name == "bias"))
        np.testing.assert_allclose(actual[1], feed["x"] + feed["skip"] + bias, atol=1e-6)


def test_a_graph_without_the_node_is_copied_unchanged():
    proto = skip_layernorm_model(["x", "skip", "gamma"], ["y"])
    proto.graph.node[0].op_type = "Add"
    del proto.graph.node[0].input[2:], proto.graph.node[0].attribute[:]
    proto.graph.node[0].domain = ""
    copy = unfuse_skip_layernorm(proto)
    assert copy == proto and copy is not proto


def test_old_opsets_have_no_layernormalization():
    with pytest.raises(ValueError, match="opset >= 17"):
        unfuse_skip_layernorm(skip_layernorm_model(["x", "skip", "gamma"], ["y"], opset=16))


def optimized_ops(proto, tmp_path, providers):
    """The op types of the graph onnxruntime runs after its own session-level fusions."""
    options = session_options(threads=1)
    options.optimized_model_filepath = str(tmp_path / "session.onnx")
    ort.InferenceSession(
        proto.SerializeToString(), options, providers=providers, disabled_optimizers=disabled_optimizers(providers)
    )
    return [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]


def test_the_cpu_session_keeps_the_pair_apart(tmp_path):
    unfused = unfuse_skip_layernorm(skip_layernorm_model(["x", "skip", "gamma", "beta", "bias"], ["y"]))
    assert "LayerNormalization" in optimized_ops(unfused, tmp_path, ["CPUExecutionProvider"])
    # What it prevents: with every optimizer on, onnxruntime fuses the pair back.
    assert disabled_optimizers(["CUDAExecutionProvider", "CPUExecutionProvider"]) == []
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "all.onnx")
    ort.InferenceSession(unfused.SerializeToString(), options, providers=["CPUExecutionProvider"])
    assert [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node] == ["SkipLayerNormalization"]
