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
from fastformers_tf.runtime.onnx_predictor import disabled_optimizers, session_options

OPSET = 18
SKIP_LAYER_NORM_INPUTS = ("x", "skip", "gamma", "beta", "bias")


def _session(proto, threads):
    """A CPU session opened as `OnnxPredictor` opens one (so `Add` + `LayerNormalization` stay apart)."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    return ort.InferenceSession(
        proto.SerializeToString(),
        session_options(threads),
        providers=providers,
        disabled_optimizers=disabled_optimizers(providers),
    )


def _model(nodes, inputs, outputs, initializers, opset=OPSET):
    graph = helper.make_graph(nodes, "kernel", inputs, outputs, initializers)
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)]
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


def skip_layernorm_model(hidden, inputs=SKIP_LAYER_NORM_INPUTS, outputs=("y",), opset=OPSET, epsilon=1e-12):
    """One `SkipLayerNormalization` over graph inputs x and skip, as the BERT fusion writes it by default.

    `inputs` names which of gamma, beta, bias exist (random initializers; ""
    leaves an optional one out); every named output is a graph output.
    """
    rng = np.random.default_rng(0)
    params = [
        numpy_helper.from_array(rng.normal(mean, 0.1, hidden).astype(np.float32), name)
        for name, mean in (("gamma", 1.0), ("beta", 0.0), ("bias", 0.0))
        if name in inputs
    ]
    node = helper.make_node(
        "SkipLayerNormalization", list(inputs), list(outputs), "SkipLayerNorm", domain="com.microsoft", epsilon=epsilon
    )
    shape = ["batch", "seq", hidden]
    return _model(
        [node],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in ("x", "skip")],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in outputs if name],
        params,
        opset,
    )


def layernorm_kernels(threads, shape=(1, 128, 384), iterations=200):
    """Median ms of the fused `SkipLayerNormalization` and of `Add` + `LayerNormalization` on `shape`.

    Both sessions are opened the way `OnnxPredictor` opens them (no
    `SkipLayerNormFusion`), so the two kernels are what is compared.
    Returns the two times and the largest difference of their outputs.
    """
    fused = skip_layernorm_model(shape[-1])
    rng = np.random.default_rng(1)
    feed = {name: rng.normal(size=shape).astype(np.float32) for name in ("x", "skip")}
    sessions = {
        "skip_layernorm": _session(fused, threads),
        "add_layernorm": _session(unfuse_skip_layernorm(fused), threads),
    }
    result = {"shape": list(shape)}
    for name, session in sessions.items():
        result[f"{name}_ms"] = 1e3 * float(np.median(timings(lambda x, s=session: s.run(None, x), feed, iterations)))
    outputs = [session.run(None, feed)[0] for session in sessions.values()]
    result["max_abs_diff"] = float(np.abs(outputs[0] - outputs[1]).max())
    return result
