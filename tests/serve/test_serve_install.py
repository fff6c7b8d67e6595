"""The serving install (`./install.sh serve`, no TensorFlow) runs predict.py, evaluate.py and serve.py."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests import tiny
from tests.harness import ROOT
from tests.serve.test_server import free_port

SENTENCES = [("a fine film", "1"), ("a dull one", "0"), ("the soup was good", "1"), ("bad", "0")]


@pytest.fixture(scope="module")
def serve_venv(tmp_path_factory):
    """A virtual environment with only `./install.sh serve` in it (packages from the registry)."""
    venv = tmp_path_factory.mktemp("serve") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    result = subprocess.run(["./install.sh", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return venv / "bin" / "python"


def run(python, tool, *args):
    """Runs tools/<tool> with the venv's python, outside the repository (no checkout on sys.path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.Popen(
        [str(python), os.path.join(ROOT, "tools", tool), *args],
        cwd="/",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def sst2_export(tmp_path_factory):
    """A tiny two-label classifier with SST-2's label names, exported to ONNX, and a tiny glue_dev file."""
    from fastformers_tf.export import ExportOptions, export_all

    folder = tmp_path_factory.mktemp("sst2")
    model = tiny.classifier(num_classes=2, labels=["negative", "positive"])
    export_all(model, str(folder / "export"), tiny.tokenizer(str(folder)), ExportOptions(int8=True))
    (folder / "data" / "glue" / "SST-2").mkdir(parents=True)
    rows = "".join(f"{text}\t{label}\n" for text, label in SENTENCES)
    (folder / "data" / "glue" / "SST-2" / "glue_dev.tsv").write_text("sentence\tlabel\n" + rows)
    return folder


@pytest.mark.slow
def test_the_serving_install_runs_the_tools_without_tensorflow(serve_venv, sst2_export):
    from fastformers_tf.runtime import load_predictor

    check = subprocess.run([str(serve_venv), "-c", "import tensorflow"], capture_output=True, text=True)
    assert check.returncode != 0 and "No module named 'tensorflow'" in check.stderr
    export = str(sst2_export / "export")
    texts = [text for text, _ in SENTENCES]

    predict = run(serve_venv, "predict.py", f"--model={export}", "--precision=int8", *(f"--text={t}" for t in texts))
    out, err = predict.communicate(timeout=300)
    assert predict.returncode == 0 and err == "", err  # no framework warnings
    expected = load_predictor(export, "onnx", "int8").predict(texts)
    assert [line.split("\t")[0] for line in out.splitlines()] == [label for label, _ in expected]

    evaluate = run(
        serve_venv,
        "evaluate.py",
        f"--model={export}",
        "--task=sst2",
        "--split=glue_dev",
        f"--data_dir={sst2_export / 'data'}",
    )
    out, err = evaluate.communicate(timeout=300)
    assert evaluate.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["examples"] == len(SENTENCES)

    port = free_port()
    server = run(serve_venv, "serve.py", f"--model={export}", f"--port={port}", "--threads=1")
    try:
        import httpx

        deadline = time.time() + 120
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/predict", json={"texts": texts}, timeout=10)
                break
            except httpx.TransportError:
                assert time.time() < deadline
                time.sleep(0.3)
        assert response.status_code == 200
        assert [p["label"] for p in response.json()["predictions"]] == [
            label for label, _ in load_predictor(export, "onnx", "fp32").predict(texts)
        ]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert "Traceback" not in server.stderr.read()
