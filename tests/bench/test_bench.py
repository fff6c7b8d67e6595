"""Benchmark helpers: turn-taking timings, op counts, the layernorm kernel pair, the printed table."""

import numpy as np
import pytest
from onnx import numpy_helper

from fastformers_tf.bench import kernels
from fastformers_tf.bench.backends import encoder_ops, format_table, interleaved_timings
from fastformers_tf.bench.kernels import layernorm_kernels
from fastformers_tf.models.config import EncoderConfig


def test_backends_take_turns_and_each_gets_its_iterations():
    calls = []
    backends = {name: (lambda x, name=name: calls.append(name)) for name in ("a", "b")}
    seconds = interleaved_timings(backends, None, iterations=7, rounds=3, warmup=1, pause=0)
    assert {name: len(s) for name, s in seconds.items()} == {"a": 7, "b": 7}
    # Round 1: a's warm-up call and 3 timed calls, then b's; rounds 2 and 3: a warm-up and 2 timed calls each.
    assert "".join(calls) == "aaaa" + "bbbb" + "aaa" + "bbb" + "aaa" + "bbb"


def test_minilm_query_ops_match_the_issue():
    config = EncoderConfig(vocab_size=30522, hidden_dim=384, num_layers=6, num_heads=12, intermediate_dim=1536)
    assert abs(encoder_ops(config, 128) / 1e9 - 2.9) < 0.05  # "one MiniLM-L6 query at seq 128 is about 2.9 GOP"
    pruned = EncoderConfig(
        vocab_size=99, hidden_dim=384, num_layers=6, num_heads=[6] * 6, intermediate_dim=[768] * 6, head_dim=32
    )
    assert encoder_ops(pruned, 128) * 2 == encoder_ops(config, 128)  # half the head width and FFN: half the ops


def test_layernorm_kernels_time_both_kernels_and_compare_equal_computations(monkeypatch):
    runs = []

    def fake_timings(forward, feed, iterations):  # each kernel's output, and seconds with medians 2 ms then 4 ms
        runs.append((forward(feed)[0], feed, iterations))
        return np.array([3e-3, 1e-3, 2e-3]) * len(runs)

    monkeypatch.setattr(kernels, "timings", fake_timings)
    result = layernorm_kernels(threads=1, shape=(1, 9, 24), iterations=3)
    (fused, feed, iterations), (unfused, same_feed, _) = runs
    assert iterations == 3 and same_feed is feed and feed["x"].shape == (1, 9, 24)
    diff = float(np.abs(fused - unfused).max())
    assert result == {
        "shape": [1, 9, 24],
        "skip_layernorm_ms": pytest.approx(2.0),
        "add_layernorm_ms": pytest.approx(4.0),
        "max_abs_diff": diff,
    }
    params = {t.name: numpy_helper.to_array(t) for t in kernels.skip_layernorm_model(24).graph.initializer}
    total = feed["x"] + feed["skip"] + params["bias"]
    normed = (total - total.mean(-1, keepdims=True)) / np.sqrt(total.var(-1, keepdims=True) + 1e-12)
    expected = normed * params["gamma"] + params["beta"]
    np.testing.assert_allclose(fused, expected, atol=1e-5)
    np.testing.assert_allclose(unfused, expected, atol=1e-5)
    assert result["max_abs_diff"] < 1e-5


def test_table_names_the_cpu_and_the_kernels():
    row = dict(
        backend="onnx int8",
        seq_len=32,
        latency_ms_median=2.0,
        latency_ms_p90=2.5,
        throughput_per_s=500.0,
        latency_speedup=3.0,
        throughput_speedup=2.0,
        share_of_int8_peak=0.41,
    )
    kernels = {"32": {"shape": [1, 32, 384], "skip_layernorm_ms": 0.09, "add_layernorm_ms": 0.03, "max_abs_diff": 0}}
    tflite = dict(row, backend="tflite int8", latency_ms_median=1.5)
    result = {
        "cpu": "Some CPU",
        "threads": 2,
        "int8_gemm_peak_gops": 250.0,
        "layernorm_kernels": kernels,
        "rows": [row, tflite],
    }
    lines = format_table(result).splitlines()
    assert lines[0] == "Some CPU, 2 threads"
    assert "1x32x384: SkipLayerNormalization 90 us, Add + LayerNormalization 30 us (3.0x)" in lines
    assert lines[-3].split() == ["onnx", "int8", "32", "2.00", "2.50", "3.00x", "500", "2.00x", "41%"]
    assert lines[-1] == "seq 32: fastest int8 path tflite int8 (1.50 ms); then onnx int8 1.33x"


def test_models_side_by_side_each_run_every_example_once_per_call_in_turns():
    from fastformers_tf.bench.models import compare
    from fastformers_tf.data.batching import Features

    class Fake:
        """A predictor that records the token count of each call."""

        input_names, pad_id = ("token_ids", "padding_mask"), 0

        def __init__(self, name, log):
            self.name, self.log = name, log

        def forward(self, inputs):
            self.log.append((self.name, inputs["token_ids"].shape))

    lengths = [3, 5, 2, 4]
    features = Features(
        token_ids=np.arange(1, sum(lengths) + 1, dtype=np.int32),
        segment_ids=np.zeros(sum(lengths), np.int32),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        labels=np.zeros(4, np.int32),
        spans=np.zeros((4, 0, 2), np.int32),
    )
    log = []
    result = compare({"t": Fake("t", log), "s": Fake("s", log)}, lambda p: features, examples=4, rounds=2, pause=0)
    assert set(result) == {"t", "s"} and result["t"]["speedup"] == 1.0
    # Round 1: t's warm-up (its first share's first example) then examples 0 and 2 at batch 1, then s; round 2: 1, 3.
    assert [shape for name, shape in log if name == "t"] == [(1, 3), (1, 3), (1, 2), (1, 5), (1, 5), (1, 4)]
    assert [name for name, _ in log] == ["t"] * 3 + ["s"] * 3 + ["t"] * 3 + ["s"] * 3


def test_in_turns_gives_every_contestant_a_turn_each_round_after_a_pause(monkeypatch):
    from fastformers_tf.bench import timing

    events = []
    monkeypatch.setattr(timing.time, "sleep", lambda s: events.append(f"sleep {s}"))
    result = timing.in_turns(["a", "b"], lambda c, r: events.append(f"{c}{r}") or f"{c}{r}", rounds=2, pause=0.5)
    assert result == {"a": ["a0", "a1"], "b": ["b0", "b1"]}
    assert events == ["sleep 0.5", "a0", "sleep 0.5", "b0", "sleep 0.5", "a1", "sleep 0.5", "b1"]


def test_latency_is_median_p90_and_speedup_over_the_baseline_median():
    from fastformers_tf.bench.timing import latency

    seconds = [0.001, 0.002, 0.003, 0.004, 0.010]
    assert latency(seconds, baseline=[0.006, 0.009]) == {"median_ms": 3.0, "p90_ms": 7.6, "speedup": 2.5}
