"""Keras -> ONNX with tf2onnx, and onnxruntime's transformer graph fusion.

TensorFlow is imported inside the functions that need a Keras model, so the
ONNX-only helpers (`op_counts`, and `quantize`, `fp16` built on them)
work without it.
"""

import collections
import contextlib
import io
import logging

import onnx

from fastformers_tf.errors import UserError
from fastformers_tf.runtime.names import to_hf

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 18
# Families whose attention onnxruntime's `bert_keras` fusion matches. MPNet's
# does not: its relative position bias sits between the scores and the
# softmax, so it runs unfused (and still matches Keras).
FUSED_ATTENTION_FAMILIES = ("bert", "roberta")


class FusionError(UserError, RuntimeError):
    """onnxruntime fused fewer attention blocks than the model has."""


def export_onnx(model, path, opset=DEFAULT_OPSET):
    """Writes `model` as ONNX with dynamic batch and sequence axes; returns the ModelProto.

    Inputs and outputs have Hugging Face's names (`input_ids`,
    `attention_mask`, `token_type_ids`; `logits` for task models,
    `last_hidden_state` and `pooler_output` for encoders; see
    `runtime.names`), so transformers' and optimum's clients feed them as
    they are.
    """
    import tf2onnx

    from fastformers_tf.models.encoder import input_signature

    proto, _ = tf2onnx.convert.from_keras(model, input_signature=input_signature(model), opset=opset)
    names = {x.name: to_hf(x.name) for x in proto.graph.input}
    if isinstance(model.output, dict):
        # tf2onnx names a dict's outputs after the layers that made them (`pooler`), in flattened order.
        flat = [to_hf(name) for name in _flat_output_names(model.output)]
        names.update(zip([x.name for x in proto.graph.output], flat, strict=True))
    _rename(proto, names)
    onnx.save(proto, path)
    return proto


def _flat_output_names(output, prefix=""):
    """Names for `tf.nest.flatten(output)`, in its order: dict keys (sorted, as tf.nest sorts them), list indices."""
    if isinstance(output, dict):
        return [name for key in sorted(output) for name in _flat_output_names(output[key], f"{prefix}{key}_")]
    if isinstance(output, list | tuple):
        return [name for i, item in enumerate(output) for name in _flat_output_names(item, f"{prefix}{i}_")]
    return [prefix[:-1]]


def _rename(proto, names):
    """Renames graph inputs and outputs (`{old: new}`) and every node edge that carries them."""
    for value in (*proto.graph.input, *proto.graph.output):
        value.name = names.get(value.name, value.name)
    for node in proto.graph.node:
        for field in (node.input, node.output):
            for i, name in enumerate(field):
                if name in names:
                    field[i] = names[name]


def check_onnx(model, path, atol=1e-4, threads=None):
    """Runs `path` in onnxruntime on sample batches and compares it with `model` in Keras.

    Returns `{"max_abs_diff", "argmax_agreement", "outputs"}`; raises
    `ParityError` with the largest difference when it exceeds `atol`.
    """
    from fastformers_tf.export.parity import check
    from fastformers_tf.runtime.onnx_predictor import OnnxPredictor

    return check(model, OnnxPredictor(path, threads=threads), atol)


def op_counts(proto):
    """`{op type: count}` over every node of `proto`'s graph (fused and plain)."""
    return dict(collections.Counter(node.op_type for node in proto.graph.node))


@contextlib.contextmanager
def silenced():
    """Keeps onnxruntime's tools' chatter (the optimizer's pattern matching, the quantizer's advice to
    pre-process, which a fused graph cannot take) out of the user's output: prints and log records."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def zero_biases(model):
    """Names of the model's bias vectors that are exactly zero (as Keras initialises them)."""
    import numpy as np

    return [w.name for w in model.weights if w.name.endswith("bias:0") and not np.any(w.numpy())]


def bert_optimizer(path, hidden_dim):
    """onnxruntime's BERT fusions (`model_type="bert_keras"`) run on `path`: the `OnnxModel` to save."""
    from onnxruntime.transformers import optimizer

    with silenced():
        return optimizer.optimize_model(path, model_type="bert_keras", num_heads=1, hidden_size=hidden_dim, opt_level=0)


def optimize_onnx(path, output_path, model, require_fusion=True):
    """Runs onnxruntime's BERT fusion (`model_type="bert_keras"`) on an exported file.

    Fused `Attention` nodes get each layer's own head count: the optimizer
    assumes one count for all layers, which is wrong for pruned models.

    For BERT and RoBERTa, every layer with heads must fuse into one
    `Attention` node: otherwise `FusionError` is raised (with
    `require_fusion=False`, a warning) and nothing is written, since an
    unfused graph is correct but far slower than the caller expects. MPNet's
    attention is known not to fuse (see `FUSED_ATTENTION_FAMILIES`) and is
    allowed with a log message.

    Returns the op-type counts of the optimized graph.
    """
    from fastformers_tf.models.encoder import encoder_of

    config = encoder_of(model).config
    optimized = bert_optimizer(path, config.hidden_dim)
    initializers = {init.name: init for init in optimized.model.graph.initializer}
    for node in optimized.model.graph.node:
        if node.op_type != "Attention":
            continue
        qkv_width = initializers[node.input[1]].dims[1]
        for attribute in node.attribute:
            if attribute.name == "num_heads":
                attribute.i = qkv_width // (3 * config.head_dim)
    counts = op_counts(optimized.model)
    expected = sum(n > 0 for n in config.num_heads)
    if counts.get("Attention", 0) < expected:
        message = (
            f"{path}: onnxruntime fused {counts.get('Attention', 0)} Attention nodes, but the {config.family} "
            f"model has {expected} layers with heads (num_heads={config.num_heads}). Op counts: {counts}."
        )
        zero = zero_biases(model)
        if zero:
            message += (
                f" {len(zero)} bias vectors of the model are all zeros (e.g. {zero[0]}): a freshly initialised, "
                "untrained model. tf2onnx removes additions of zero, so onnxruntime's fusion patterns cannot match. "
                "Export a trained model, or pass require_fusion=False (tools/export.py --norequire_fusion) to "
                "write the unfused graph."
            )
        if config.family not in FUSED_ATTENTION_FAMILIES:
            logger.info("%s Expected for %s: its attention does not fuse.", message, config.family)
        elif require_fusion:
            raise FusionError(message)
        else:
            logger.warning(message)
    optimized.save_model_to_file(output_path)
    return op_counts(onnx.load(output_path))
