"""tools/bench_int8.py and tools/export.py --int8_mode=qat on a tiny classifier and tiny RTE files."""

import json

from fastformers_tf.export.parity import sample_inputs
from fastformers_tf.models import save_model
from fastformers_tf.quantize import quantize_model
from tests import tiny
from tests.harness import PAIRS, assert_one_line_error, run_tool, write_rte

LABELS = ["entailment", "not_entailment"]


def test_every_int8_path_is_scored_and_timed_side_by_side(tmp_path):
    write_rte(tmp_path / "data")
    model = tiny.classifier(num_classes=2, labels=LABELS)
    save_model(model, str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    qat = quantize_model(model, [sample_inputs(model, 8, 13, seed) for seed in (1, 2)])
    save_model(qat, str(tmp_path / "qat"), tokenizer=tiny.tokenizer(str(tmp_path)))
    out = tmp_path / "bench"
    result = run_tool(
        "bench_int8.py",
        "--task=rte",
        "--split=val",
        f"--model={tmp_path / 'model'}",
        f"--qat_model={tmp_path / 'qat'}",
        f"--output_dir={out}",
        f"--data_dir={tmp_path / 'data'}",
        "--calibration_examples=8",
        "--seq_lens=9",
        "--latency_iterations=2",
        "--rounds=1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bench = json.loads((out / "bench.json").read_text())
    paths = ("dynamic", "static", "ptq", "qat")
    labels = ["onnx fp32", "tflite fp32"] + [f"{b} int8 {p}" for p in paths for b in ("onnx", "tflite")]
    assert list(bench["metrics"]) == labels and bench["calibration_examples"] == 8
    assert all(0 <= m["accuracy"] <= 1 for m in bench["metrics"].values())
    assert [r["backend"] for r in bench["rows"]] == labels
    assert all((r["share_of_int8_peak"] is not None) == ("int8" in r["backend"]) for r in bench["rows"])
    for path in paths:
        info = json.loads((out / path / "export.json").read_text())
        assert info["options"]["int8_mode"] == {"ptq": "qat"}.get(path, path)
    assert json.loads((out / "qat" / "export.json").read_text())["tflite_float_ops"]["FULLY_CONNECTED"] == 5


def test_export_qat_of_a_float_model_needs_texts_to_calibrate_on(tmp_path):
    model = tiny.classifier(num_classes=2, labels=LABELS)
    save_model(model, str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    result = run_tool(
        "export.py", f"--model={tmp_path / 'model'}", f"--output_dir={tmp_path / 'out'}", "--int8", "--int8_mode=qat"
    )
    assert_one_line_error(result, r"--int8_mode=qat needs --calibration_file", code=2)
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(p for pair in PAIRS for p in pair[:2]) + "\n")
    result = run_tool(
        "export.py",
        f"--model={tmp_path / 'model'}",
        f"--output_dir={tmp_path / 'out'}",
        "--int8",
        "--int8_mode=qat",
        f"--calibration_file={texts}",
        "--tflite",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tflite/int8: ops left in float" in result.stdout and '"FULLY_CONNECTED": 5' in result.stdout
    info = json.loads((tmp_path / "out" / "export.json").read_text())
    assert info["parity"]["onnx/int8"]["argmax_agreement"] is not None
