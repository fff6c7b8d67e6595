"""`tools/serve.py` as a real server on 127.0.0.1: answers, bad requests, batching, graceful SIGTERM."""

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest

from fastformers_tf.runtime import load_predictor
from tests.harness import ROOT

TEXTS = ["the team won the game", "a dull film", "the soup was good", "bad", "the movie was great and long"] * 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model, *flags):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "serve.py"),
            f"--model={model}",
            f"--port={port}",
            "--threads=1",
            *flags,
        ],
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the server did not become healthy")


def stop(process):
    """SIGTERM; the exit status, after uvicorn's graceful shutdown re-raised the signal (-15) with no traceback."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert "Traceback" not in process.stderr.read()
    return code


@pytest.fixture(scope="module")
def server(tiny_export):
    process, url = start_server(tiny_export.directory, "--precision=fp32", "--max_wait_ms=30", "--max_batch=16")
    yield url
    assert stop(process) == -signal.SIGTERM


def metric(url, name):
    """The value of one sample line of /metrics, e.g. `fastformers_batch_size_count`."""
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} in /metrics")


def test_answers_equal_the_predictor_for_texts_and_pairs(server, tiny_export):
    predictor = load_predictor(tiny_export.directory, "onnx", "fp32")
    for body, pairs in (({"texts": TEXTS}, None), ({"pairs": [[t, TEXTS[-1 - i]] for i, t in enumerate(TEXTS)]}, True)):
        response = httpx.post(f"{server}/predict", json=body)
        assert response.status_code == 200, response.text
        answers = response.json()["predictions"]
        second = [TEXTS[-1 - i] for i in range(len(TEXTS))] if pairs else None
        expected = predictor.predict(TEXTS, second)
        assert [a["label"] for a in answers] == [label for label, _ in expected]
        probs = np.exp(predictor.logits(TEXTS, second))
        probs /= probs.sum(-1, keepdims=True)
        served = [[a["probabilities"][k] for k in ("x", "y", "z")] for a in answers]
        np.testing.assert_allclose(served, probs, atol=1e-5)
    assert len({a["label"] for a in answers}) > 1
    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["labels"] == ["x", "y", "z"]


@pytest.mark.parametrize(
    "body, status, reason",
    [
        (b"not json", 400, "the body is not JSON"),
        (b'{"text": "a"}', 422, 'with "texts"'),
        (b'{"texts": []}', 422, '"texts" must be a non-empty list'),
        (b'{"texts": ["ok", "  "]}', 422, "texts\\[1\\] is empty"),
        (b'{"texts": ["ok", 3]}', 422, "texts\\[1\\] must be a string"),
        (b'{"pairs": [["a"]]}', 422, "pairs\\[0\\] must be a list of two strings"),
        (b'{"texts": [' + b", ".join([b'"a"'] * 17) + b"]}", 413, "17 entries; this server takes at most 16"),
        (b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nests JSON arrays or objects too deeply"),
        (b'{"texts": ["a\\ud800b"]}', 400, "texts\\[0\\] is not valid Unicode \\(a lone surrogate at character 1\\)"),
    ],
)
def test_a_bad_request_gets_a_4xx_with_one_line_and_the_server_keeps_serving(server, body, status, reason):
    import re

    response = httpx.post(f"{server}/predict", content=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert re.search(reason, error) and "\n" not in error
    assert httpx.post(f"{server}/predict", json={"texts": ["still fine"]}).status_code == 200


def test_concurrent_requests_are_batched(server):
    before = metric(server, "fastformers_batch_size_count")
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda t: httpx.post(f"{server}/predict", json={"texts": [t]}).status_code, TEXTS * 2))
    assert codes == [200] * len(TEXTS) * 2
    calls = metric(server, "fastformers_batch_size_count") - before
    assert calls < len(TEXTS) * 2  # fewer predictor calls than requests: some batch held several
    assert metric(server, 'fastformers_batch_size_bucket{le="1.0"}') < metric(server, "fastformers_batch_size_count")


def test_texts_over_the_positions_are_refused_when_truncation_is_off(tiny_export):
    from starlette.testclient import TestClient

    from fastformers_tf.serve.app import make_app

    predictor = load_predictor(tiny_export.directory, "onnx", "fp32", max_length=8)
    with TestClient(make_app(predictor, truncate=False)) as client:
        response = client.post("/predict", json={"texts": ["ok", "the team won the game and the soup was good"]})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error.startswith("entry 1 has ") and "at most 8 (truncation is off)" in error
        assert client.post("/predict", json={"texts": ["ok"]}).status_code == 200


def test_sigterm_under_load_answers_every_accepted_request(tiny_export):
    process, url = start_server(tiny_export.directory, "--precision=fp32", "--max_wait_ms=150")
    outcomes, stop_at = [], []
    done = threading.Event()

    def client():
        # A new connection per request: a refused connection is a request the server never accepted.
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30) as http:
            while not done.is_set():
                start = time.time()
                try:
                    code = http.post(f"{url}/predict", json={"texts": TEXTS[:3]}).status_code
                except httpx.ConnectError:
                    code = "refused"
                except httpx.TransportError as e:  # accepted, then dropped: what must not happen
                    code = type(e).__name__
                outcomes.append((start, time.time(), code))
                if code == "refused":
                    return

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    stop_at.append(time.time())
    assert stop(process) == -signal.SIGTERM
    done.set()
    for thread in threads:
        thread.join(timeout=60)
    codes = [code for _, _, code in outcomes]
    assert set(codes) <= {200, "refused"}, codes
    # Requests sent before the signal and answered after it: the shutdown waited for them.
    assert any(start < stop_at[0] < end and code == 200 for start, end, code in outcomes)
    assert codes.count(200) > 10


def test_a_predictor_failure_is_a_500_with_one_line_and_the_next_batch_is_served(tiny_export):
    from starlette.testclient import TestClient

    from fastformers_tf.serve.app import make_app

    predictor = load_predictor(tiny_export.directory, "onnx", "fp32")
    logits = predictor.logits

    def failing(texts, pairs=None):
        if "boom" in texts:
            raise ValueError("the runtime\nfailed")  # onnxruntime raises its own, non-RuntimeError types
        return logits(texts, pairs)

    predictor.logits = failing
    with TestClient(make_app(predictor, max_wait_ms=0)) as client:
        response = client.post("/predict", json={"texts": ["boom"]})
        assert response.status_code == 500 and response.json() == {"error": "the runtime failed"}
        assert client.post("/predict", json={"texts": ["fine"]}).status_code == 200
        assert 'fastformers_requests_total{status="500"} 1.0' in client.get("/metrics").text


def resident_mb(pid):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_a_body_over_the_limit_is_413_before_it_is_read(tiny_export):
    """120 MB took the server from 6 to 18.7 GB with no answer; now 413 at once, resident memory within 50 MB."""
    process, url = start_server(tiny_export.directory, "--precision=fp32", "--max_request_bytes=1000000")
    try:
        assert httpx.post(f"{url}/predict", json={"texts": ["warm"]}).status_code == 200
        before = resident_mb(process.pid)
        body = b'{"texts": ["' + b"a " * (60 << 20) + b'"]}'  # 120 MB, one text
        start = time.time()
        declared = httpx.post(f"{url}/predict", content=body, timeout=60)
        pieces = (body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20))  # no Content-Length: chunked
        chunked = httpx.post(f"{url}/predict", content=pieces, timeout=60)
        seconds = time.time() - start
        for response, reason in ((declared, "has 125829135 bytes"), (chunked, "exceeds 1000000 bytes")):
            assert response.status_code == 413 and reason in response.json()["error"], response.text
        assert seconds < 30 and resident_mb(process.pid) - before < 50
        assert httpx.post(f"{url}/predict", json={"texts": ["still fine"]}).status_code == 200
    finally:
        stop(process)
