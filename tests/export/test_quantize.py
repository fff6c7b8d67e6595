"""INT8 ONNX models: reduce_range from CPU flags, per-channel weights, excluded nodes, static QDQ."""

import hashlib

import numpy as np
import onnx
import pytest

from fastformers_tf.export import check_onnx, classifier_nodes, export_onnx, optimize_onnx, quantize_int8
from fastformers_tf.export.parity import compare, sample_inputs
from fastformers_tf.export.quantize import cpu_flags, default_reduce_range
from fastformers_tf.runtime.onnx_predictor import OnnxPredictor
from tests import tiny

CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse sse2 avx2 {extra}\n\nprocessor\t: 1\n"
# More rows than the export check uses: int8 is judged by agreement, which needs many predictions.
MANY = ((16, 13), (8, 29), (8, 7))


@pytest.mark.parametrize(
    "extra, vnni",
    [("avx512f avx512_vnni", True), ("avx_vnni", True), ("amx_tile amx_int8", True), ("avx512f avx512bw", False)],
)
def test_reduce_range_is_used_only_without_vnni(extra, vnni):
    flags = cpu_flags(CPUINFO.format(extra=extra))
    assert "avx2" in flags
    assert default_reduce_range(flags) is (not vnni)


def test_unknown_cpu_flags_reduce_range():
    assert cpu_flags("processor : 0\n") == set()
    assert default_reduce_range(set()) is True
    assert default_reduce_range(cpu_flags("Features\t: fp asimd asimddp\n")) is True  # ARM: no x86 VNNI flag


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    model = tiny.classifier()
    directory = tmp_path_factory.mktemp("quantize")
    raw, fused = str(directory / "model.onnx"), str(directory / "model.opt.onnx")
    export_onnx(model, raw)
    optimize_onnx(raw, fused, model)
    return model, fused


def weight_scale_shapes(path):
    proto = onnx.load(path)
    shapes = {init.name: list(init.dims) for init in proto.graph.initializer}
    return [shapes[node.input[4]] for node in proto.graph.node if node.op_type == "QAttention"]


def test_dynamic_int8_quantizes_fused_attention_per_channel_and_keeps_the_classifier_fp32(fused, tmp_path):
    model, path = fused
    int8 = str(tmp_path / "model.int8.onnx")
    head = classifier_nodes(path)
    assert len(head) == 1 and head[0].endswith("/logits/MatMul")  # text_classifier[_N]/logits/MatMul
    counts = quantize_int8(path, int8, nodes_to_exclude=head)
    assert counts["QAttention"] == 2 and "Attention" not in counts  # both layers with heads
    assert counts["MatMulInteger"] == 6 and counts["MatMul"] == 1  # attention output, FFN in, FFN out x 2; not the head
    assert "DequantizeLinear" not in counts  # embeddings stay fp32
    assert [n.name for n in onnx.load(int8).graph.node if n.op_type == "MatMul"] == head
    assert weight_scale_shapes(int8) == [[48], [72]]  # one scale per Q/K/V output column: per channel
    report = compare(model, OnnxPredictor(int8), MANY)
    assert report["argmax_agreement"] >= 0.9 and report["max_abs_diff"] < 0.5
    quantize_int8(path, str(tmp_path / "per_tensor.onnx"), per_channel=False)
    assert weight_scale_shapes(str(tmp_path / "per_tensor.onnx")) == [[], []]


def test_refuses_to_overwrite_the_fp32_model(fused):
    _, path = fused
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with pytest.raises(ValueError, match="Refusing to overwrite the fp32 model"):
        quantize_int8(path, path)
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest
    check_onnx(fused[0], path)  # still the fp32 model


def test_static_qdq_calibrated_on_sample_batches(fused, tmp_path):
    model, path = fused
    qdq = str(tmp_path / "model.qdq.onnx")
    with pytest.raises(ValueError, match="calibration_batches"):
        quantize_int8(path, qdq, mode="static")
    batches = [sample_inputs(model, 8, n, seed) for seed, n in enumerate((9, 17, 33))]
    counts = quantize_int8(path, qdq, mode="static", calibration_batches=batches)
    assert counts["QuantizeLinear"] > 0 and counts["DequantizeLinear"] > counts["QuantizeLinear"]
    assert np.all(np.isfinite(OnnxPredictor(qdq).forward(batches[0])["logits"]))
    assert compare(model, OnnxPredictor(qdq), MANY)["argmax_agreement"] >= 0.9


def test_classifier_nodes_of_an_encoder_is_an_error(tmp_path):
    path = str(tmp_path / "encoder.onnx")
    export_onnx(tiny.encoder(), path)
    with pytest.raises(ValueError, match="No MatMul/Gemm node of a layer named 'logits'"):
        classifier_nodes(path)
