"""Writes onnxruntime's fused `SkipLayerNormalization` back as `Add` + ONNX `LayerNormalization`.

The BERT fusion needs `SkipLayerNormalization` nodes to find the attention
blocks, so it cannot be told to leave them out; but on CPU onnxruntime's
`SkipLayerNormalization` kernel is 2-6x slower than an `Add` followed by
its `LayerNormalization` kernel (`bench.kernels.layernorm_kernels`). This
pass runs after the fusion and undoes only that part of it. A session on the
result must be opened with `disabled_optimizers=["SkipLayerNormFusion"]`
(`OnnxPredictor` does so on CPU), or onnxruntime fuses the pair again when
it loads the file.

Needs onnx only.
"""

import onnx
from onnx import helper

SKIP_LAYER_NORM = "SkipLayerNormalization"
# onnxruntime's default when the fused node carries no epsilon (ONNX LayerNormalization's is 1e-5).
SKIP_LAYER_NORM_EPSILON = 1e-12
MIN_OPSET = 17  # LayerNormalization joined the default domain in opset 17


def _default_opset(proto):
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def _epsilon(node):
    return next((a.f for a in node.attribute if a.name == "epsilon"), SKIP_LAYER_NORM_EPSILON)


def _unfused(node):
    """The nodes computing `node`: (input + bias) + skip, then LayerNormalization with its gamma, beta, epsilon.

    SkipLayerNormalization's inputs are (input, skip, gamma, beta?, bias?) and
    its outputs (output, mean?, inv_std_var?, input_skip_bias_sum?); ONNX
    LayerNormalization's outputs (Y, Mean, InvStdDev) line up with the first
    three, and the sum is the Add's output.
    """
    inputs = list(node.input) + [""] * (5 - len(node.input))
    outputs = list(node.output) + [""] * (4 - len(node.output))
    x, skip, gamma, beta, bias = inputs
    nodes = []
    if bias:
        nodes.append(helper.make_node("Add", [x, bias], [f"{node.name}/input_bias"], name=f"{node.name}/AddBias"))
        x = nodes[-1].output[0]
    total = outputs[3] or f"{node.name}/sum"
    nodes.append(helper.make_node("Add", [x, skip], [total], name=f"{node.name}/AddSkip"))
    norm_inputs = [total, gamma] + ([beta] if beta else [])
    norm_outputs = outputs[:3]
    while norm_outputs and not norm_outputs[-1]:
        norm_outputs.pop()
    epsilon = _epsilon(node)
    nodes.append(
        helper.make_node(
            "LayerNormalization", norm_inputs, norm_outputs, f"{node.name}/LayerNorm", axis=-1, epsilon=epsilon
        )
    )
    return nodes


def unfuse_skip_layernorm(proto):
    """A copy of `proto` with every `SkipLayerNormalization` node written as `Add` + `LayerNormalization`.

    Outputs are unchanged up to float rounding (the same sum, then the same
    normalization). Other nodes and their order are kept; a graph without
    such nodes comes back as an equal copy.
    """
    if any(node.op_type == SKIP_LAYER_NORM for node in proto.graph.node) and _default_opset(proto) < MIN_OPSET:
        raise ValueError(
            f"LayerNormalization needs opset >= {MIN_OPSET}, the graph imports opset {_default_opset(proto)}; "
            f"export with a newer opset."
        )
    result = onnx.ModelProto()
    result.CopyFrom(proto)
    del result.graph.node[:]
    for node in proto.graph.node:
        if node.op_type == SKIP_LAYER_NORM:
            result.graph.node.extend(_unfused(node))
        else:
            result.graph.node.append(node)
    return result
