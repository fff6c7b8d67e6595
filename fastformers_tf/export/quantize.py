"""INT8 quantization of an ONNX export with onnxruntime: dynamic (default) or static QDQ.

Needs onnx and onnxruntime only, no TensorFlow.
"""

import logging
import os

import onnx

from fastformers_tf.cpu import cpu_flags
from fastformers_tf.export.onnx import op_counts, silenced
from fastformers_tf.runtime.names import to_inner

logger = logging.getLogger(__name__)

# Dynamic mode: where int8 pays, the GEMMs. Quantizing the embedding Gathers
# (onnxruntime's default) saves memory, not time, and costs accuracy at the input.
DYNAMIC_OP_TYPES = ("MatMul", "Attention")
# CPU flags of int8 dot-product instructions (x86: AVX512-VNNI, AVX-VNNI, AMX).
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
MODES = ("dynamic", "static")


def has_int8_dot_product(flags):
    return any(flag in flags for flag in VNNI_FLAGS)


def default_reduce_range(flags=None):
    """Whether to quantize weights to 7 bits on this CPU.

    Without VNNI, x86 int8 GEMMs multiply u8 activations by s8 weights with
    `vpmaddubsw`, which adds pairs of products into int16 and saturates; 7-bit
    weights keep the sums in range. VNNI (and AMX) accumulate in int32, so the
    full 8 bits are safe and more accurate there.
    """
    return not has_int8_dot_product(cpu_flags() if flags is None else flags)


def classifier_nodes(path_or_proto, layer_name="logits"):
    """Names of the MatMul/Gemm nodes of the output Dense layer (named `logits` in our task models).

    Candidates for `nodes_to_exclude`: the classifier is tiny, so quantizing
    it saves nothing and costs accuracy right at the logits.
    """
    proto = onnx.load(path_or_proto) if isinstance(path_or_proto, str | os.PathLike) else path_or_proto
    names = [
        node.name
        for node in proto.graph.node
        if node.op_type in ("MatMul", "Gemm") and layer_name in node.name.split("/")
    ]
    if not names:
        raise ValueError(f"No MatMul/Gemm node of a layer named {layer_name!r} in the graph (an encoder export?).")
    return names


def _check_paths(path, output_path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such ONNX file to quantize.")
    if os.path.abspath(output_path) == os.path.abspath(path) or (
        os.path.exists(output_path) and os.path.samefile(path, output_path)
    ):
        raise ValueError(f"Refusing to overwrite the fp32 model {path} with its int8 version; give another path.")


class BatchReader:
    """A `CalibrationDataReader` over sample input batches (dicts of numpy arrays).

    Batches carry the inner input names (as `pad_batch` makes them); each is
    fed under the file's names (Hugging Face's, or the inner ones of older
    exports), keeping only the inputs the model has, so batches made for any
    of our task models can be passed as they are.
    """

    def __init__(self, batches, input_names):
        self._batches = [
            {name: batch[to_inner(name)] for name in input_names if to_inner(name) in batch} for batch in batches
        ]
        self._next = iter(self._batches)

    def get_next(self):
        return next(self._next, None)

    def rewind(self):
        self._next = iter(self._batches)


def quantize_int8(
    path,
    output_path,
    mode="dynamic",
    per_channel=True,
    reduce_range=None,
    nodes_to_exclude=(),
    calibration_batches=None,
    op_types=None,
):
    """Writes an INT8 copy of the ONNX model at `path` to `output_path`; returns its op-type counts.

    Args:
        path: an fp32 ONNX file, fused by `optimize_onnx` or not.
        output_path: the new file; refusing `path` itself, so the fp32 model survives.
        mode: "dynamic" (`quantize_dynamic`: int8 weights, activations
            quantized per batch at run time; fused Attention becomes
            QAttention) or "static" (`quantize_static`, QDQ format:
            activation ranges calibrated on `calibration_batches`).
        per_channel: one weight scale per output channel (default) rather
            than per tensor.
        reduce_range: 7-bit weights; None picks it from the CPU flags
            (`default_reduce_range`).
        nodes_to_exclude: node names kept in fp32, e.g. `classifier_nodes(path)`.
        calibration_batches: input dicts for the static mode.
        op_types: op types to quantize. Default: MatMul and fused Attention
            in dynamic mode; onnxruntime's own choice in static mode (naming
            op types there skips every tensor of a fused graph whose type
            ONNX shape inference cannot give, i.e. all of them).
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    if mode not in MODES:
        raise ValueError(f"Unknown quantization mode {mode!r}; expected one of {MODES}.")
    _check_paths(path, output_path)
    reduce_range = default_reduce_range() if reduce_range is None else reduce_range
    # Fused graphs have com.microsoft ops whose outputs ONNX shape inference
    # cannot type; without a default type the quantizer stops at the first one.
    extra_options = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    common = dict(
        per_channel=per_channel,
        reduce_range=reduce_range,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(nodes_to_exclude),
        extra_options=extra_options,
    )
    if op_types is not None or mode == "dynamic":
        common["op_types_to_quantize"] = list(op_types or DYNAMIC_OP_TYPES)
    if mode == "dynamic":
        with silenced():
            quantize_dynamic(path, output_path, **common)
    else:
        if not calibration_batches:
            raise ValueError("Static quantization needs calibration_batches (input dicts of sample batches).")
        input_names = {x.name for x in onnx.load(path).graph.input}
        reader = BatchReader(calibration_batches, input_names)
        with silenced():
            quantize_static(
                path, output_path, reader, quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, **common
            )
    logger.info("Wrote %s (%s int8, per_channel=%s, reduce_range=%s)", output_path, mode, per_channel, reduce_range)
    return op_counts(onnx.load(output_path))
