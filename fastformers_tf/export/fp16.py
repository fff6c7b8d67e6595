"""FP16 copy of an ONNX export, for GPUs; inputs and outputs stay as they were (int32 ids, fp32 logits).

Needs onnx and onnxruntime only, no TensorFlow.
"""

import os

import onnx

from fastformers_tf.export.onnx import op_counts


def convert_fp16(path, output_path, op_block_list=None):
    """Writes an fp16 copy of the ONNX model at `path`; returns its op-type counts.

    Uses onnxruntime's `OnnxModel.convert_float_to_float16` with
    `keep_io_types=True` (callers keep feeding int32 ids and reading fp32
    logits) and symbolic shape inference, which types the fused contrib ops
    (`Attention`, `SkipLayerNormalization`) that ONNX shape inference cannot.

    Args:
        path: an fp32 ONNX file (fused by `optimize_onnx` for GPU speed).
        output_path: the new file; refusing `path` itself.
        op_block_list: op types kept in fp32 (None: onnxruntime's default list).
    """
    from onnxruntime.transformers.onnx_model import OnnxModel

    if os.path.abspath(output_path) == os.path.abspath(path):
        raise ValueError(f"Refusing to overwrite the fp32 model {path} with its fp16 version; give another path.")
    model = OnnxModel(onnx.load(path))
    model.convert_float_to_float16(keep_io_types=True, op_block_list=op_block_list)
    model.save_model_to_file(output_path)
    return op_counts(onnx.load(output_path))
