"""Keras -> TFLite (fp32; INT8 dynamic range, static from calibration batches, or from QAT ranges), dynamic axes."""

import logging

import numpy as np

from fastformers_tf.backend import tf
from fastformers_tf.models.encoder import TransformerEncoder, encoder_of, input_signature
from fastformers_tf.runtime.keras_predictor import keras_outputs_spec
from fastformers_tf.runtime.names import to_hf, to_inner

logger = logging.getLogger(__name__)

TFLITE_ACTIVATION = "gelu_tflite"


def tflite_ready(model):
    """`model` rebuilt with the same weights and `tf.nn.gelu`, which TFLite runs as one GELU op.

    Our default `gelu` is written with `tf.math.erf` for tf2onnx; TFLite's
    builtin ops have no Erf, but do have GELU. The two agree to float rounding.
    """
    encoder = encoder_of(model)
    if encoder.config.activation != "gelu":
        return model  # relu and gelu_tanh convert as they are
    tflite_encoder = encoder.with_options(activation=TFLITE_ACTIVATION)
    return tflite_encoder if isinstance(model, TransformerEncoder) else model.with_encoder(tflite_encoder)


def export_tflite(model, path, int8=False, calibration_batches=None):
    """Writes `model` as a `.tflite` file; returns the path.

    Converted from a concrete function over `[None, None]` inputs, so the
    interpreter resizes to any batch and length (see `TfLitePredictor`). The
    signature's inputs and outputs have Hugging Face's names (`input_ids`,
    `attention_mask`, `token_type_ids`; `logits`, or `last_hidden_state` and
    `pooler_output` for encoders; see `runtime.names`).

    Args:
        model: a task model or `TransformerEncoder` (rebuilt with `tflite_ready`).
        path: the file to write.
        int8: INT8 (`tf.lite.Optimize.DEFAULT`). For a quantization-aware
            model (`fastformers_tf.quantize`), the GEMMs run int8 in and out
            with the trained ranges; otherwise, with `calibration_batches`,
            post-training static INT8 (ranges measured on them, ops without
            an int8 kernel left in float); otherwise dynamic range (int8
            weights, activations quantized on the fly inside each matmul).
            `float_ops(path)` names what still runs in float.
        calibration_batches: input dicts of real text (inner names), for static INT8.
    """
    from fastformers_tf.quantize.qat import is_quantized

    model = tflite_ready(model)
    names = keras_outputs_spec(model)

    def serve(inputs):
        outputs = model({to_inner(name): value for name, value in inputs.items()}, training=False)
        return {to_hf(name): outputs[name] for name in names} if isinstance(outputs, dict) else {"logits": outputs}

    (specs,) = input_signature(model)
    renamed = {to_hf(name): tf.TensorSpec(spec.shape, spec.dtype, name=to_hf(name)) for name, spec in specs.items()}
    concrete = tf.function(serve, input_signature=[renamed]).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    # Builtin ops only: a SELECT_TF_OPS fallback would need the TensorFlow runtime at serving time.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    kind = "fp32"
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        kind = "dynamic-range int8"
        if is_quantized(model):
            kind = "int8 from fake quantization"
        elif calibration_batches:
            batches = [{to_hf(name): batch[name] for name in specs} for batch in same_length(calibration_batches)]
            converter.representative_dataset = lambda: iter(batches)
            kind = f"static int8 ({len(batches)} calibration batches)"
    flatbuffer = converter.convert()
    with open(path, "wb") as f:
        f.write(flatbuffer)
    logger.info("Wrote %s (%s, %d bytes)", path, kind, len(flatbuffer))
    return path


def same_length(batches):
    """`batches` (input dicts) padded to their longest length: TFLite's calibrator cannot change shapes.

    Fed batches of several lengths, it fails ("Given shapes, [16,76,384] and
    [16,128,384], are not broadcastable"). Padding uses each batch's own
    padding token where it has one (0 otherwise) and a zero mask and segment.
    """
    length = max(batch["padding_mask"].shape[1] for batch in batches)
    padded = []
    for batch in batches:
        extra = length - batch["padding_mask"].shape[1]
        masked = batch["token_ids"][batch["padding_mask"] == 0]
        pad_id = masked[0] if masked.size else 0
        padded.append(
            {
                name: np.pad(
                    np.asarray(value), ((0, 0), (0, extra)), constant_values=pad_id if name == "token_ids" else 0
                )
                for name, value in batch.items()
            }
        )
    return padded


def float_ops(path):
    """`{op name: count}` of the ops in a `.tflite` file that compute in float (DEQUANTIZE aside).

    An op counts as float when one of its outputs is float32: in an int8
    model these are the ops with no int8 kernel or no range to use one.
    """
    from fastformers_tf.runtime.tflite_predictor import interpreter_class

    interpreter = interpreter_class()(model_path=path)
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    counts = {}
    for op in interpreter._get_ops_details():  # the public Analyzer only prints
        if op["op_name"] != "DEQUANTIZE" and any(dtypes[i] == np.float32 for i in op["outputs"]):
            counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return dict(sorted(counts.items()))


def check_tflite(model, path, atol=1e-4, threads=None):
    """Runs `path` in the LiteRT interpreter on sample batches and compares it with `model` in Keras.

    Returns `{"max_abs_diff", "argmax_agreement", "outputs"}`; raises
    `ParityError` when the difference exceeds `atol`.
    """
    from fastformers_tf.export.parity import check
    from fastformers_tf.runtime.tflite_predictor import TfLitePredictor

    return check(model, TfLitePredictor(path, threads=threads), atol)
