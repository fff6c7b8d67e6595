"""Quantization-aware models: `quantize_model` (fake-quant GEMMs, calibrated), `dequantize_model` (back to float).

tfmot's `quantize_model` cannot be used here (measured with
tensorflow-model-optimization 0.8.1, tf-keras 2.21): on a task model it
raises "Quantizing a keras Model inside another keras Model is not
supported", and on the bare `TransformerEncoder` it rewrites the
attention-bias `TFOpLambda` ops into a rank-8 bias, so the attention fails
("Dimension must be 8 but is 4" at its transpose). Our encoder layers hold
their Dense layers inside, where its layer-by-layer rewrite cannot reach, so
the fake quantization lives in `models.quant_dense.QuantDense` and the
encoder's `quantize=True` option puts it in every GEMM.
"""

import contextlib

from fastformers_tf.models.encoder import TransformerEncoder, copy_outer_weights, encoder_of
from fastformers_tf.models.quant_dense import QuantDense


def _dense_layers(layer):
    attention = layer.attention
    return [
        attention.query,
        attention.key,
        attention.value,
        attention.output_dense,
        layer.intermediate,
        layer.output_dense,
    ]


def quant_dense_layers(model):
    """The `QuantDense` layers of `model`'s encoder, in layer order (empty for a float model)."""
    return [
        d for layer in encoder_of(model).transformer_layers for d in _dense_layers(layer) if isinstance(d, QuantDense)
    ]


def is_quantized(model):
    return bool(encoder_of(model).quantize)


def _rebuilt(model, quantize):
    encoder = encoder_of(model)
    new = TransformerEncoder(**{**encoder.get_config(), "quantize": quantize})
    copy_outer_weights(encoder, new)
    for source, target in zip(encoder.transformer_layers, new.transformer_layers, strict=True):
        for norm in ("attention_norm", "output_norm"):
            getattr(target, norm).set_weights(getattr(source, norm).get_weights())
        for src, dst in zip(_dense_layers(source), _dense_layers(target), strict=True):
            # kernel and bias first in both; a QuantDense keeps its own range variables after them
            dst.set_weights(src.get_weights()[:2] + dst.get_weights()[2:])
    return new if isinstance(model, TransformerEncoder) else model.with_encoder(new)


@contextlib.contextmanager
def calibrating(model):
    """Within it, `model`'s `QuantDense` layers update their input ranges at inference too."""
    layers = quant_dense_layers(model)
    for layer in layers:
        layer.calibrating = True
    try:
        yield model
    finally:
        for layer in layers:
            layer.calibrating = False


def calibrate(model, batches):
    """Sets the input ranges of `model`'s `QuantDense` layers from `batches` (input dicts), without dropout.

    The first batch sets each range, later ones move it by the layer's
    moving average; returns `model`.
    """
    batches = list(batches)
    if not batches:
        raise ValueError("Calibration needs at least one input batch.")
    with calibrating(model):
        for batch in batches:
            model(batch, training=False)
    return model


def quantize_model(model, calibration_batches):
    """A new model with `model`'s weights and 8-bit fake quantization in every Transformer-layer GEMM.

    The input ranges start from `calibration_batches` (input dicts of real
    text), so the returned model is already a post-training static INT8
    model; fine-tune or distill it (`distill.quantize_aware`) to make it a
    quantization-aware one. Embeddings, pooler and classifier stay float.

    Example:
        >>> qat = quantize_model(model, [encoder.dummy_inputs()])
        >>> is_quantized(qat), is_quantized(model)
        (True, False)
    """
    if is_quantized(model):
        raise ValueError("The model is already quantization-aware (its encoder has quantize=True).")
    return calibrate(_rebuilt(model, quantize=True), calibration_batches)


def dequantize_model(model):
    """A float copy of a quantization-aware model (its trained weights, no fake quantization)."""
    if not is_quantized(model):
        raise ValueError("The model has no fake quantization to remove (its encoder has quantize=False).")
    return _rebuilt(model, quantize=False)
