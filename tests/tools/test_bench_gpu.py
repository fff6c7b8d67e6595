"""tools/bench_gpu.py, the prepared GPU benchmark (#14): refused without a GPU provider, dry-run on the CPU."""

import json

import onnxruntime as ort
import pytest

from fastformers_tf.models import save_model
from tests import tiny
from tests.harness import assert_one_line_error, run_tool, write_rte


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime has CUDA")
def test_without_onnxruntime_gpu_it_stops_at_once_saying_what_to_install(tmp_path):
    result = run_tool("bench_gpu.py", f"--output_dir={tmp_path / 'out'}", "--shape=tiny")
    assert_one_line_error(result, r"device='gpu' needs CUDAExecutionProvider.*onnxruntime-gpu")
    assert not (tmp_path / "out").exists()


def test_a_cpu_dry_run_times_every_backend_and_scores_fp16_against_fp32(tmp_path):
    write_rte(tmp_path / "data")
    model = tiny.classifier(num_classes=2, labels=["entailment", "not_entailment"])
    save_model(model, str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    out = tmp_path / "out"
    result = run_tool(
        "bench_gpu.py",
        "--device=cpu",
        f"--model={tmp_path / 'model'}",
        f"--output_dir={out}",
        "--batch_sizes=1,4",
        "--seq_len=9",
        "--iterations=2",
        "--rounds=1",
        "--task=rte",
        "--split=val",
        f"--data_dir={tmp_path / 'data'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bench = json.loads((out / "bench.json").read_text())
    names = ["keras fp32", "onnx fp32 CPUExecutionProvider", "onnx fp16 CPUExecutionProvider"]
    assert [(r["backend"], r["batch_size"]) for r in bench["rows"]] == [(n, b) for b in (1, 4) for n in names]
    assert all(r["ms_median"] > 0 for r in bench["rows"]) and bench["rows"][0]["speedup"] == 1.0
    accuracy = bench["accuracy"]
    assert accuracy["agreement"] >= 0.9 and set(accuracy["fp16"]) == set(accuracy["fp32"]) == {"accuracy"}
