"""Quantization-aware models: fake quantization, calibration, training, saving and both INT8 exports."""

import numpy as np
import onnx
import pytest

from fastformers_tf.backend import keras, tf
from fastformers_tf.export.parity import compare, sample_inputs
from fastformers_tf.models import load_model, save_model
from fastformers_tf.models.quant_dense import QuantDense, fake_quant_kernel
from fastformers_tf.quantize import calibrate, dequantize_model, is_quantized, quant_dense_layers, quantize_model
from fastformers_tf.runtime.keras_predictor import KerasPredictor
from tests import tiny

# Batches of several shapes, none of them the calibration one.
SHAPES = ((16, 13), (8, 29), (8, 7))


def calibration(model, seeds=(11, 12, 13)):
    """Batches of different lengths, as real text gives."""
    return [sample_inputs(model, 8, 21 - 4 * i, seed) for i, seed in enumerate(seeds)]


@pytest.fixture(scope="module")
def models():
    model = tiny.classifier()
    return model, quantize_model(model, calibration(model))


def ranges(model):
    """Every range variable of the model's QuantDense layers, flat."""
    return np.array(
        [v.numpy() for d in quant_dense_layers(model) for v in d.non_trainable_weights if "batches" not in v.name]
    )


def test_every_gemm_of_the_layers_with_heads_or_units_is_fake_quantized_and_calibrated(models):
    model, qat = models
    assert is_quantized(qat) and not is_quantized(model)
    dense = quant_dense_layers(qat)
    assert len(dense) == 3 * 6  # every layer has its six Dense layers; the empty ones are never called
    called = [d for d in dense if d.batches.numpy() > 0]
    assert len(called) == 12  # heads [2, 3, 0], FFN [37, 11, 0]: 4 + 2, 4 + 2, none
    assert all(d.batches.numpy() == 3 for d in called)
    for d in called:
        pairs = [(d.input_min, d.input_max)] + ([(d.output_min, d.output_max)] if d.quantize_output else [])
        assert all(low.numpy() <= 0 < high.numpy() for low, high in pairs), d.name
    # The outputs that join the residual stream stay float (attention output, FFN output).
    assert [(d.name, d.quantize_output) for d in dense[:6]] == [
        ("query", True),
        ("key", True),
        ("value", True),
        ("output", False),
        ("intermediate", True),
        ("output", False),
    ]


def test_the_fake_quantized_model_stays_close_to_the_float_one_and_dequantizes_back_exactly(models):
    model, qat = models
    report = compare(model, KerasPredictor(qat), SHAPES)
    assert report["argmax_agreement"] >= 0.9 and 0 < report["max_abs_diff"] < 0.5
    back = dequantize_model(qat)
    x = sample_inputs(model, 4, 9)
    np.testing.assert_array_equal(back(x).numpy(), model(x).numpy())
    with pytest.raises(ValueError, match="already quantization-aware"):
        quantize_model(qat, calibration(model))
    with pytest.raises(ValueError, match="no fake quantization"):
        dequantize_model(model)
    with pytest.raises(ValueError, match="at least one input batch"):
        calibrate(quantize_model(model, calibration(model)), [])


def test_kernels_are_on_a_symmetric_int8_grid():
    kernel = tf.random.normal((7, 5), seed=1)
    quantized = fake_quant_kernel(kernel).numpy()
    step = np.abs(kernel.numpy()).max() / 127
    np.testing.assert_allclose(quantized / step, np.round(quantized / step), atol=1e-3)
    assert np.abs(quantized).max() == pytest.approx(np.abs(kernel.numpy()).max(), rel=1e-6)
    assert len(np.unique(np.round(quantized / step))) > 20


def test_training_moves_weights_and_ranges_and_inference_leaves_ranges_alone(models):
    model, _ = models
    qat = quantize_model(model, calibration(model))
    before, kernels = ranges(qat), [d.kernel.numpy().copy() for d in quant_dense_layers(qat)]
    x = sample_inputs(model, 8, 13, seed=5)
    qat(x, training=False)
    np.testing.assert_array_equal(ranges(qat), before)
    qat.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    qat.fit(x, np.arange(8) % 3, epochs=3, batch_size=4, verbose=0)
    after = ranges(qat)
    assert not np.allclose(after, before)
    assert any(not np.array_equal(d.kernel.numpy(), k) for d, k in zip(quant_dense_layers(qat), kernels, strict=True))
    assert max(d.batches.numpy() for d in quant_dense_layers(qat)) == 3 + 6  # 3 calibration + 2 steps x 3 epochs


def test_a_saved_quantization_aware_model_loads_with_its_ranges(models, tmp_path):
    model, qat = models
    save_model(qat, str(tmp_path / "qat"))
    loaded = load_model(str(tmp_path / "qat"))
    assert is_quantized(loaded)
    np.testing.assert_array_equal(ranges(loaded), ranges(qat))
    x = sample_inputs(model, 3, 9)
    np.testing.assert_allclose(loaded(x).numpy(), qat(x).numpy(), atol=1e-6)


def test_quant_dense_takes_no_activation():
    with pytest.raises(ValueError, match="no activation"):
        QuantDense(4, activation="relu")


# === Exports ===

# What stays float in the full-integer TFLite file of the uneven classifier:
# embeddings, LayerNorm (mean / squared difference / rsqrt), residual adds,
# attention scores and softmax, pooling, the float classifier head, and the
# bias-only blocks of the layer with no heads and no FFN units (ZEROS_LIKE + ADD).
QAT_TFLITE_FLOAT_OPS = {
    "ADD",
    "BATCH_MATMUL",
    "CAST",
    "FULLY_CONNECTED",
    "GATHER",
    "MEAN",
    "MUL",
    "RSQRT",
    "SOFTMAX",
    "SQUARED_DIFFERENCE",
    "SUB",
    "SUM",
    "MAXIMUM",
    "DIV",
    "EXPAND_DIMS",
    "ZEROS_LIKE",
}


def test_tflite_from_fake_quantization_runs_its_gemms_in_int8_and_agrees_with_keras(models, tmp_path):
    from fastformers_tf.export.tflite import export_tflite, float_ops
    from fastformers_tf.runtime.tflite_predictor import TfLitePredictor

    _, qat = models
    path = export_tflite(qat, str(tmp_path / "qat.tflite"), int8=True)
    floats = float_ops(path)
    assert set(floats) <= QAT_TFLITE_FLOAT_OPS, floats
    # The classifier and the 4 GEMMs that feed the residual stream (no output range); the other 8 run int8 in and out.
    assert floats["FULLY_CONNECTED"] == 1 + 4
    assert floats["BATCH_MATMUL"] == 2  # attention scores, once per layer with heads
    report = compare(qat, TfLitePredictor(path), SHAPES)
    assert report["argmax_agreement"] >= 0.95


def test_post_training_static_tflite_is_full_integer(models, tmp_path):
    from fastformers_tf.export.tflite import export_tflite, float_ops
    from fastformers_tf.runtime.tflite_predictor import TfLitePredictor

    model, _ = models
    path = export_tflite(model, str(tmp_path / "static.tflite"), int8=True, calibration_batches=calibration(model))
    # Only the padding mask's int -> float casts (attention bias, mean pooling) and the zero blocks' ZEROS_LIKE.
    assert float_ops(path) == {"CAST": 2, "ZEROS_LIKE": 2}
    # LayerNorm and softmax in int8 too: looser than QAT (chance is 1/3); real-data numbers are in the README.
    assert compare(model, TfLitePredictor(path), SHAPES)["argmax_agreement"] >= 0.6


def test_qdq_onnx_runs_int8_gemms_in_onnxruntime_and_agrees_with_keras(models, tmp_path):
    import onnxruntime as ort

    from fastformers_tf.export.qdq import export_qdq, quantize_folded_weights
    from fastformers_tf.runtime.onnx_predictor import OnnxPredictor

    model, qat = models
    path = str(tmp_path / "qat.onnx")
    counts = export_qdq(qat, path)
    assert counts["SkipLayerNormalization"] >= 4 and counts["Gelu"] == 2
    weights = [i for i in onnx.load(path).graph.initializer if i.data_type == onnx.TensorProto.INT8 and i.dims]
    assert len(weights) == 12
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "loaded.onnx")
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    loaded = [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]
    assert loaded.count("MatMulIntegerToFloat") >= 12
    report = compare(qat, OnnxPredictor(path), SHAPES)
    assert report["argmax_agreement"] >= 0.95
    with pytest.raises(ValueError, match="No fake-quantized MatMul weight"):
        from fastformers_tf.export.onnx import export_onnx

        quantize_folded_weights(export_onnx(model, str(tmp_path / "float.onnx")))
    with pytest.raises(ValueError, match="needs a quantization-aware model"):
        export_qdq(model, str(tmp_path / "no.onnx"))


def test_export_all_writes_qat_files_and_refuses_mixed_modes(models, tmp_path):
    from fastformers_tf.export import ExportOptions, export_all

    model, qat = models
    report = export_all(qat, str(tmp_path / "qat"), options=ExportOptions(int8=True, int8_mode="qat", tflite=True))
    assert set(report["files"]) == {"onnx/fp32", "onnx/int8", "tflite/fp32", "tflite/int8"}
    assert report["parity"]["onnx/fp32"]["max_abs_diff"] < 1e-4  # fp32 files: the float copy, fused as ever
    assert report["op_counts"]["onnx/fp32"]["Attention"] == 2
    assert report["parity"]["onnx/int8"]["argmax_agreement"] >= 0.9
    assert report["tflite_float_ops"]["FULLY_CONNECTED"] == 1 + 4
    with pytest.raises(ValueError, match="quantization-aware: export its INT8 files with int8_mode='qat'"):
        export_all(qat, str(tmp_path / "dynamic"), options=ExportOptions(int8=True))
    with pytest.raises(ValueError, match="needs calibration_batches"):
        export_all(model, str(tmp_path / "float"), options=ExportOptions(int8=True, int8_mode="qat"))
    report = export_all(
        model,
        str(tmp_path / "ptq"),
        options=ExportOptions(int8=True, int8_mode="qat"),
        calibration_batches=calibration(model),
    )
    assert report["parity"]["onnx/int8"]["argmax_agreement"] >= 0.8
