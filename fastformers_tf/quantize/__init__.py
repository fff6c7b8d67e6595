"""Quantization-aware training and full-integer INT8 (see `qat` for why not tfmot's `quantize_model`)."""

from fastformers_tf.quantize.qat import calibrate, dequantize_model, is_quantized, quant_dense_layers, quantize_model

__all__ = ["calibrate", "dequantize_model", "is_quantized", "quant_dense_layers", "quantize_model"]
