"""Keras -> ONNX with tf2onnx, and onnxruntime's transformer graph fusion."""

import collections
import contextlib
import io
import logging

import onnx

from fastformers_tf.models.encoder import input_signature

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 18


def encoder_of(model):
    """The `TransformerEncoder` inside a task model (or `model` itself)."""
    from fastformers_tf.models.encoder import TransformerEncoder

    encoder = model if isinstance(model, TransformerEncoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, TransformerEncoder):
        raise TypeError(f"Expected a TransformerEncoder or a task model around one, got {type(model).__name__}.")
    return encoder


def export_onnx(model, path, opset=DEFAULT_OPSET):
    """Writes `model` as ONNX with dynamic batch and sequence axes; returns the ModelProto."""
    import tf2onnx

    proto, _ = tf2onnx.convert.from_keras(model, input_signature=input_signature(model), opset=opset, output_path=path)
    return proto


def fused_op_counts(proto):
    return dict(collections.Counter(node.op_type for node in proto.graph.node))


def optimize_onnx(path, output_path, model):
    """Runs onnxruntime's BERT fusion (`model_type="bert_keras"`) on an exported file.

    Fused `Attention` nodes get each layer's own head count: the optimizer
    assumes one count for all layers, which is wrong for pruned models.
    Returns the op-type counts of the optimized graph.
    """
    from onnxruntime.transformers import optimizer

    config = encoder_of(model).config
    # The optimizer prints pattern-matching chatter; keep it out of the user's output.
    with contextlib.redirect_stdout(io.StringIO()):
        optimized = optimizer.optimize_model(
            path, model_type="bert_keras", num_heads=1, hidden_size=config.hidden_dim, opt_level=0
        )
    initializers = {init.name: init for init in optimized.model.graph.initializer}
    for node in optimized.model.graph.node:
        if node.op_type != "Attention":
            continue
        qkv_width = initializers[node.input[1]].dims[1]
        for attribute in node.attribute:
            if attribute.name == "num_heads":
                attribute.i = qkv_width // (3 * config.head_dim)
    optimized.save_model_to_file(output_path)
    return fused_op_counts(onnx.load(output_path))
