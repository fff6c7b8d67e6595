"""Export to onnxruntime (fp32, INT8, FP16) and TFLite, each checked against Keras.

Lazy: `quantize_int8` and `convert_fp16` work on ONNX files without TensorFlow.
"""

from fastformers_tf._lazy import lazy_exports

_EXPORTS = {
    "ExportOptions": "fastformers_tf.export.pipeline",
    "FusionError": "fastformers_tf.export.onnx",
    "ParityError": "fastformers_tf.export.parity",
    "check_onnx": "fastformers_tf.export.onnx",
    "check_tflite": "fastformers_tf.export.tflite",
    "classifier_nodes": "fastformers_tf.export.quantize",
    "convert_fp16": "fastformers_tf.export.fp16",
    "default_reduce_range": "fastformers_tf.export.quantize",
    "export_all": "fastformers_tf.export.pipeline",
    "export_onnx": "fastformers_tf.export.onnx",
    "export_tflite": "fastformers_tf.export.tflite",
    "op_counts": "fastformers_tf.export.onnx",
    "optimize_onnx": "fastformers_tf.export.onnx",
    "quantize_int8": "fastformers_tf.export.quantize",
    "unfuse_skip_layernorm": "fastformers_tf.export.layernorm",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
