"""Latency and throughput of every inference backend on one model, side by side.

All backends run in one process on the same synthetic batches, one after the
other, so the ratios to Keras are measured under the same conditions. The
int8 paths are also put against this CPU's int8 GEMM peak, measured in the
same run with one large onnxruntime `MatMulInteger`.
"""

import time

import numpy as np


def synthetic_inputs(input_names, vocab_size, batch_size, seq_len, seed=0):
    """Full-length (unpadded) int32 batches: timing does not depend on token values."""
    rng = np.random.default_rng(seed)
    inputs = {
        "token_ids": rng.integers(1000, vocab_size, (batch_size, seq_len)).astype(np.int32),
        "padding_mask": np.ones((batch_size, seq_len), np.int32),
        "segment_ids": np.zeros((batch_size, seq_len), np.int32),
    }
    return {name: inputs[name] for name in input_names}


def timings(forward, inputs, iterations, warmup=3):
    """Seconds of each of `iterations` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        forward(inputs)
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        forward(inputs)
        seconds.append(time.perf_counter() - start)
    return np.array(seconds)


def encoder_ops(config, seq_len):
    """Multiply-add operations (x2) of one query through the encoder layers.

    Projections 4*T*D*(N*H) (Q, K, V, output), attention 2*T*T*(N*H) (scores and
    context), FFN 2*T*D*F, per layer; embeddings and the head are negligible.
    """
    total = 0
    for heads, ffn in zip(config.num_heads, config.intermediate_dim, strict=True):
        width = heads * config.head_dim
        total += 4 * seq_len * config.hidden_dim * width + 2 * seq_len * seq_len * width
        total += 2 * seq_len * config.hidden_dim * ffn
    return 2 * total


def int8_gemm_peak(threads, size=1024, iterations=20):
    """Int8 ops/s of onnxruntime's `MatMulInteger` on a `size`^3 GEMM (uint8 x int8 -> int32)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.integers(-127, 127, (size, size)).astype(np.int8), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "int8_gemm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [size, size])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [size, size])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    a = rng.integers(0, 255, (size, size)).astype(np.uint8)
    seconds = timings(lambda x: session.run(None, {"A": x}), a, iterations)
    return 2 * size**3 / float(np.median(seconds))


def benchmark(backends, config, input_names, seq_lens=(32, 128), latency_iterations=50, throughput_batch=32,
              throughput_iterations=5, threads=2):  # fmt: skip
    """Rows of latency (batch 1) and throughput (batch `throughput_batch`) per backend and length.

    Args:
        backends: `{name: forward}`; the first one is the baseline of the ratios.
        config: the encoder's `EncoderConfig` (vocabulary, ops count).
        input_names: the model's input names.
    """
    peak = int8_gemm_peak(threads)
    rows = []
    for seq_len in seq_lens:
        one = synthetic_inputs(input_names, config.vocab_size, 1, seq_len)
        many = synthetic_inputs(input_names, config.vocab_size, throughput_batch, seq_len, seed=1)
        ops = encoder_ops(config, seq_len)
        for name, forward in backends.items():
            latency = timings(forward, one, latency_iterations)
            batch_seconds = float(np.median(timings(forward, many, throughput_iterations, warmup=1)))
            median = float(np.median(latency))
            rows.append(
                {
                    "backend": name,
                    "seq_len": seq_len,
                    "latency_ms_median": 1e3 * median,
                    "latency_ms_p90": 1e3 * float(np.percentile(latency, 90)),
                    "throughput_per_s": throughput_batch / batch_seconds,
                    "share_of_int8_peak": (ops / median) / peak if "int8" in name else None,
                }
            )
    for row in rows:
        base = next(r for r in rows if r["seq_len"] == row["seq_len"])
        row["latency_speedup"] = base["latency_ms_median"] / row["latency_ms_median"]
        row["throughput_speedup"] = row["throughput_per_s"] / base["throughput_per_s"]
    return {"int8_gemm_peak_gops": peak / 1e9, "gop_per_query": {t: encoder_ops(config, t) / 1e9 for t in seq_lens},
            "threads": threads, "rows": rows}  # fmt: skip


def format_table(result):
    lines = [
        f"int8 GEMM peak (MatMulInteger 1024^3, {result['threads']} threads): "
        f"{result['int8_gemm_peak_gops']:.0f} GOP/s",
        "backend            seq  p50 ms  p90 ms  x keras  thr/s  x keras  % int8 peak",
    ]
    for r in result["rows"]:
        share = f"{100 * r['share_of_int8_peak']:.0f}%" if r["share_of_int8_peak"] is not None else "-"
        lines.append(
            f"{r['backend']:<18} {r['seq_len']:>4} {r['latency_ms_median']:>7.2f} {r['latency_ms_p90']:>7.2f} "
            f"{r['latency_speedup']:>7.2f}x {r['throughput_per_s']:>6.0f} {r['throughput_speedup']:>7.2f}x {share:>8}"
        )
    return "\n".join(lines)
