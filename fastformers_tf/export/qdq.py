"""ONNX QDQ models from quantization-aware Keras models (`fastformers_tf.quantize`).

tf2onnx turns each input fake quantization into QuantizeLinear ->
DequantizeLinear (uint8, per tensor) and constant-folds each kernel's
fake quantization into a float initializer that lies on the int8 grid.
`quantize_folded_weights` writes those initializers back as int8 with a
DequantizeLinear, so that onnxruntime sees DequantizeLinear on
both inputs of each MatMul and runs it as an int8 GEMM (static INT8: the
activation scales are the trained ones, nothing is measured per call).
"""

import logging

import numpy as np
import onnx
from onnx import numpy_helper

from fastformers_tf.export.onnx import DEFAULT_OPSET, bert_optimizer, export_onnx, op_counts

logger = logging.getLogger(__name__)

# A weight is taken as on the grid when rounding moves it by less than this share of a step.
GRID_TOLERANCE = 1e-3


def _folded_kernels(proto):
    """`{initializer name: MatMul node}` for MatMuls whose weight is a folded fake quantization."""
    initializers = {x.name for x in proto.graph.initializer}
    return {
        node.input[1]: node
        for node in proto.graph.node
        if node.op_type == "MatMul" and node.input[1] in initializers and "FakeQuantWithMinMaxVars" in node.input[1]
    }


def quantize_folded_weights(proto):
    """A copy of `proto` whose fake-quantized MatMul weights are int8 initializers behind DequantizeLinear.

    Raises ValueError when a weight is not on its int8 grid (the model was
    not exported from a `QuantDense` kernel) or none is found.
    """
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    kernels = _folded_kernels(proto)
    if not kernels:
        raise ValueError("No fake-quantized MatMul weight in the graph: export a model from quantize_model().")
    kept, added = [], []
    for init in proto.graph.initializer:
        if init.name not in kernels:
            kept.append(init)
            continue
        w = numpy_helper.to_array(init).astype(np.float32)  # [D_in, D_out]
        scale = np.float32(max(np.abs(w).max(), 1e-8) / 127.0)  # one per tensor, as QuantDense trains it
        steps = w / scale
        q = np.round(steps)
        if np.abs(steps - q).max() > GRID_TOLERANCE:
            raise ValueError(f"Weight {init.name} is not on an int8 grid (off by {np.abs(steps - q).max():.3g} steps).")
        name = init.name
        kept += [
            numpy_helper.from_array(q.astype(np.int8), f"{name}_int8"),
            numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"),
            numpy_helper.from_array(np.array(0, np.int8), f"{name}_zero_point"),
        ]
        added.append(
            onnx.helper.make_node(
                "DequantizeLinear",
                [f"{name}_int8", f"{name}_scale", f"{name}_zero_point"],
                [name],
                name=f"{name}_DequantizeLinear",
            )
        )
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    nodes = added + list(proto.graph.node)  # the DequantizeLinear nodes read initializers only: first is a valid order
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    return proto


def export_qdq(model, path, opset=DEFAULT_OPSET):
    """Writes a quantization-aware `model` as an ONNX QDQ model at `path`; returns its op-type counts.

    tf2onnx's graph with int8 weights (`quantize_folded_weights`), then
    onnxruntime's BERT fusions: LayerNorm, SkipLayerNorm and Gelu fuse;
    attention does not (the Q/DQ pairs sit inside its pattern), so its two
    batched matmuls stay apart. onnxruntime turns each DequantizeLinear ->
    MatMul pair into `MatMulIntegerToFloat` when it loads the file.
    """
    from fastformers_tf.models.encoder import encoder_of
    from fastformers_tf.quantize.qat import is_quantized

    if not is_quantized(model):
        raise ValueError(
            "export_qdq needs a quantization-aware model: make one with fastformers_tf.quantize.quantize_model."
        )
    onnx.save(quantize_folded_weights(export_onnx(model, path, opset)), path)
    optimized = bert_optimizer(path, encoder_of(model).config.hidden_dim)
    optimized.save_model_to_file(path)
    counts = op_counts(onnx.load(path))
    logger.info("Wrote %s (QDQ int8 from fake quantization): %s", path, counts)
    return counts
