"""Latency and throughput of every inference backend on one model, side by side.

All backends run in one process on the same synthetic batches, taking turns
in rounds, so the ratios to Keras are measured under the same conditions. The
int8 paths are also put against this CPU's int8 GEMM peak, measured in the
same run with one large onnxruntime `MatMulInteger`.
"""

import numpy as np

from fastformers_tf.bench.kernels import int8_gemm_peak, layernorm_kernels
from fastformers_tf.bench.timing import in_turns, timings
from fastformers_tf.cpu import cpu_name


def synthetic_inputs(input_names, vocab_size, batch_size, seq_len, seed=0):
    """Full-length (unpadded) int32 batches: timing does not depend on token values."""
    rng = np.random.default_rng(seed)
    inputs = {
        # Past the special tokens of real vocabularies (ids 0-999 in BERT's), when the vocabulary has them.
        "token_ids": rng.integers(min(1000, vocab_size // 2), vocab_size, (batch_size, seq_len)).astype(np.int32),
        "padding_mask": np.ones((batch_size, seq_len), np.int32),
        "segment_ids": np.zeros((batch_size, seq_len), np.int32),
    }
    return {name: inputs[name] for name in input_names}


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


def interleaved_timings(backends, inputs, iterations, rounds, warmup=2, pause=0.2):
    """`{name: seconds of each call}`: every backend runs `iterations / rounds` calls per round, in turn.

    Each turn (`timing.in_turns`) starts with `warmup` untimed calls.
    """

    def turn(name, round_):
        return timings(backends[name], inputs, iterations // rounds + (round_ < iterations % rounds), warmup)

    return {name: np.concatenate(t) for name, t in in_turns(backends, turn, rounds, pause).items()}


def benchmark(
    backends,
    config,
    input_names,
    seq_lens=(32, 128),
    latency_iterations=50,
    throughput_batch=32,
    throughput_iterations=5,
    threads=2,
    rounds=5,
):
    """Rows of latency (batch 1) and throughput (batch `throughput_batch`) per backend and length.

    Args:
        backends: `{name: forward}`; the first one is the baseline of the ratios.
        config: the encoder's `EncoderConfig` (vocabulary, ops count).
        input_names: the model's input names.
        rounds: the backends take turns this many times (see `interleaved_timings`).
    """
    peak = int8_gemm_peak(threads)
    layernorm = {seq_len: layernorm_kernels(threads, (1, seq_len, config.hidden_dim)) for seq_len in seq_lens}
    rows = []
    for seq_len in seq_lens:
        one = synthetic_inputs(input_names, config.vocab_size, 1, seq_len)
        many = synthetic_inputs(input_names, config.vocab_size, throughput_batch, seq_len, seed=1)
        ops = encoder_ops(config, seq_len)
        latency = interleaved_timings(backends, one, latency_iterations, rounds)
        batch = interleaved_timings(backends, many, max(throughput_iterations, rounds), rounds, warmup=1)
        for name in backends:
            median = float(np.median(latency[name]))
            rows.append(
                {
                    "backend": name,
                    "seq_len": seq_len,
                    "latency_ms_median": 1e3 * median,
                    "latency_ms_p90": 1e3 * float(np.percentile(latency[name], 90)),
                    "throughput_per_s": throughput_batch / float(np.median(batch[name])),
                    "share_of_int8_peak": (ops / median) / peak if "int8" in name else None,
                }
            )
    for row in rows:
        base = next(r for r in rows if r["seq_len"] == row["seq_len"])
        row["latency_speedup"] = base["latency_ms_median"] / row["latency_ms_median"]
        row["throughput_speedup"] = row["throughput_per_s"] / base["throughput_per_s"]
    return {
        "cpu": cpu_name(),
        "threads": threads,
        "int8_gemm_peak_gops": peak / 1e9,
        "gop_per_query": {t: encoder_ops(config, t) / 1e9 for t in seq_lens},
        "layernorm_kernels": layernorm,
        "rows": rows,
    }


def format_table(result):
    lines = [
        f"{result['cpu']}, {result['threads']} threads",
        f"int8 GEMM peak (MatMulInteger 1024^3): {result['int8_gemm_peak_gops']:.0f} GOP/s",
    ]
    for kernels in result["layernorm_kernels"].values():
        shape = "x".join(map(str, kernels["shape"]))
        lines.append(
            f"{shape}: SkipLayerNormalization {1e3 * kernels['skip_layernorm_ms']:.0f} us, "
            f"Add + LayerNormalization {1e3 * kernels['add_layernorm_ms']:.0f} us "
            f"({kernels['skip_layernorm_ms'] / kernels['add_layernorm_ms']:.1f}x)"
        )
    lines.append(f"{'backend':<28} seq  p50 ms  p90 ms  x keras  thr/s  x keras  % int8 peak")
    for r in result["rows"]:
        share = f"{100 * r['share_of_int8_peak']:.0f}%" if r["share_of_int8_peak"] is not None else "-"
        lines.append(
            f"{r['backend']:<28} {r['seq_len']:>4} {r['latency_ms_median']:>7.2f} {r['latency_ms_p90']:>7.2f} "
            f"{r['latency_speedup']:>7.2f}x {r['throughput_per_s']:>6.0f} {r['throughput_speedup']:>7.2f}x {share:>8}"
        )
    for seq_len in dict.fromkeys(r["seq_len"] for r in result["rows"]):
        int8 = sorted(
            (r for r in result["rows"] if r["seq_len"] == seq_len and "int8" in r["backend"]),
            key=lambda r: r["latency_ms_median"],
        )
        if int8:
            best = int8[0]["latency_ms_median"]
            ranked = ", ".join(f"{r['backend']} {r['latency_ms_median'] / best:.2f}x" for r in int8[1:])
            lines.append(f"seq {seq_len}: fastest int8 path {int8[0]['backend']} ({best:.2f} ms); then {ranked}")
    return "\n".join(lines)
