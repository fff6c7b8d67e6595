"""Single-kernel timings in onnxruntime, measured in the run that uses them.

`int8_gemm_peak`: this CPU's int8 GEMM rate, the yardstick of the int8
paths. `layernorm_kernels`: onnxruntime's fused `SkipLayerNormalization`
against the `Add` + `LayerNormalization` that `unfuse_skip_layernorm`
writes instead, on one encoder-sized input.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from fastformers_tf.bench.timing import timings
from fastformers_tf.export.layernorm import unfuse_skip_layernorm
from fastformers_tf.runtime.onnx_predictor import SKIP_LAYER_NORM_FUSION

OPSET = 18


def _session(proto, threads, disabled_optimizers=()):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(
        proto.SerializeToString(),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(disabled_optimizers),
    )


def _model(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "kernel", inputs, outputs, initializers)
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    )


def int8_gemm_peak(threads, size=1024, iterations=20):
    """Int8 ops/s of onnxruntime's `MatMulInteger` on a `size`^3 GEMM (uint8 x int8 -> int32)."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.integers(-127, 127, (size, size)).astype(np.int8), "B")
    model = _model(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [size, size])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [size, size])],
        [weight],
    )
    session = _session(model, threads)
    a = rng.integers(0, 255, (size, size)).astype(np.uint8)
    seconds = timings(lambda x: session.run(None, {"A": x}), a, iterations)
    return 2 * size**3 / float(np.median(seconds))


def skip_layernorm_model(hidden, seed=0):
    """One `SkipLayerNormalization` (input + skip + bias, then gamma/beta), as the BERT fusion writes it."""
    rng = np.random.default_rng(seed)
    params = [
        numpy_helper.from_array(rng.normal(1.0, 0.1, hidden).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.normal(0.0, 0.1, hidden).astype(np.float32), "beta"),
        numpy_helper.from_array(rng.normal(0.0, 0.1, hidden).astype(np.float32), "bias"),
    ]
    node = helper.make_node(
        "SkipLayerNormalization",
        ["x", "skip", "gamma", "beta", "bias"],
        ["y"],
        name="SkipLayerNorm",
        domain="com.microsoft",
        epsilon=1e-12,
    )
    shape = ["batch", "seq", hidden]
    return _model(
        [node],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in ("x", "skip")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        params,
    )


def layernorm_kernels(threads, shape=(1, 128, 384), iterations=200):
    """Median ms of the fused `SkipLayerNormalization` and of `Add` + `LayerNormalization` on `shape`.

    The second session is opened the way `OnnxPredictor` opens int8 exports
    (no `SkipLayerNormFusion`), so the two kernels are what is compared.
    Returns the two times and the largest difference of their outputs.
    """
    fused = skip_layernorm_model(shape[-1])
    rng = np.random.default_rng(1)
    feed = {name: rng.normal(size=shape).astype(np.float32) for name in ("x", "skip")}
    sessions = {
        "skip_layernorm": _session(fused, threads),
        "add_layernorm": _session(unfuse_skip_layernorm(fused), threads, [SKIP_LAYER_NORM_FUSION]),
    }
    result = {"shape": list(shape)}
    for name, session in sessions.items():
        result[f"{name}_ms"] = 1e3 * float(np.median(timings(lambda x, s=session: s.run(None, x), feed, iterations)))
    outputs = [session.run(None, feed)[0] for session in sessions.values()]
    result["max_abs_diff"] = float(np.abs(outputs[0] - outputs[1]).max())
    return result
