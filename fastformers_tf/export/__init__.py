"""Export to onnxruntime (and, later, TFLite)."""

from fastformers_tf.export.onnx import export_onnx, fused_op_counts, optimize_onnx

__all__ = ["export_onnx", "fused_op_counts", "optimize_onnx"]
