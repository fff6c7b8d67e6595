"""Re-exporting into a folder that holds an export: never a mix of old and new files, never a lost export."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

from fastformers_tf.models import save_model
from fastformers_tf.runtime import load_predictor
from tests import tiny
from tests.harness import ROOT, TEXTS, assert_one_line_error, run_tool


def two_label_model(tmp_path):
    model = tiny.classifier(num_classes=2, labels=["neg", "pos"])
    save_model(model, str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    return str(tmp_path / "model")


def test_a_smaller_reexport_leaves_no_old_file_to_serve(tiny_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(tiny_export.directory, folder)  # 3 labels, with int8, fp16 and TFLite files
    result = run_tool("export.py", f"--model={two_label_model(tmp_path)}", f"--output_dir={folder}")
    assert result.returncode == 0, result.stderr[-2000:]

    assert sorted(json.loads((folder / "export.json").read_text())["files"]) == ["onnx/fp32"]
    assert not (folder / "model.int8.onnx").exists() and not (folder / "model.tflite").exists()
    with load_predictor(str(folder)) as predictor:
        assert predictor.labels == ["neg", "pos"] and predictor.logits(TEXTS).shape == (len(TEXTS), 2)
    for args in (["--precision=int8"], ["--backend=tflite"]):
        result = run_tool("predict.py", f"--model={folder}", "--text=a", *args)
        assert_one_line_error(result, r"has no (int8 onnx|fp32 tflite) model; it has \['onnx/fp32'\]")


def test_sigint_during_a_reexport_keeps_the_previous_export(tiny_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(tiny_export.directory, folder)
    manifest = (folder / "manifest.json").read_text()
    with load_predictor(str(folder), precision="int8") as predictor:
        before = predictor.logits(TEXTS)

    process = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "export.py"),
            f"--model={two_label_model(tmp_path)}",
            f"--output_dir={folder}",
            "--int8",
            "--tflite",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        # A job started with `&` by a non-interactive shell (nohup, CI wrappers) ignores SIGINT, and a child
        # inherits that: Python then never raises KeyboardInterrupt. A user's terminal has the default handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    # Once the fused file is written the new export is under way (and onnxruntime is imported: a signal
    # during that import surfaces as its ImportError, not as KeyboardInterrupt).
    while not glob.glob(str(tmp_path / ".export.partial-*" / "model.opt.onnx")):
        assert process.poll() is None and time.time() < deadline, "the export ended before it could be interrupted"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)

    assert process.returncode == 130 and stderr.strip().splitlines()[-1] == "error: interrupted", stderr[-2000:]
    assert not glob.glob(str(tmp_path / ".export.*"))  # the partial folder is gone
    assert (folder / "manifest.json").read_text() == manifest
    with load_predictor(str(folder), precision="int8") as predictor:
        assert predictor.labels == ["x", "y", "z"]
        np.testing.assert_array_equal(predictor.logits(TEXTS), before)
