"""A bounded load test of `tools/serve.py` on this machine: throughput and p50/p99 latency per concurrency.

  python tools/load_test.py --model=runs/sst2/export --precision=int8 --input_file=texts.txt
  python tools/load_test.py --url=http://127.0.0.1:8080 --input_file=texts.txt --concurrency=1,8,32

With --model, starts the server on a free local port (the serve.py flags given
here), runs each concurrency level, stops the server, and then times
`load_predictor(...).predict` over the same texts in this process (batches of
--batch_size), so the server's overhead reads as a ratio from one run. Each
level is bounded by --requests and --max_seconds. Only 127.0.0.1/localhost
URLs are accepted.
"""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import numpy as np
from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("url", None, "A running server (127.0.0.1 or localhost only).")
flags.DEFINE_string("model", None, "Or: an export to start tools/serve.py on.")
flags.DEFINE_enum("precision", None, ["fp32", "int8", "fp16"], "With --model: which file of the export.")
flags.DEFINE_integer("instances", 1, "With --model: the server's worker processes.", lower_bound=1)
flags.DEFINE_integer("threads", None, "With --model: threads per session.", lower_bound=1)
flags.DEFINE_integer("max_batch", 64, "With --model: the server's --max_batch.", lower_bound=1)
flags.DEFINE_float("max_wait_ms", 5.0, "With --model: the server's --max_wait_ms.", lower_bound=0)
flags.DEFINE_integer("batch_size", 32, "Texts per forward pass (server and the predictor baseline).", lower_bound=1)
flags.DEFINE_string("input_file", None, "A UTF-8 file with one text per line.", required=True)
flags.DEFINE_list("concurrency", ["1", "8", "32"], "Concurrent clients, one level each.")
flags.DEFINE_integer("requests", 500, "Requests per level (at most).", lower_bound=1)
flags.DEFINE_float("max_seconds", 60.0, "Seconds per level (at most).", lower_bound=1)
flags.DEFINE_integer("texts_per_request", 1, "Texts in each request.", lower_bound=1)

TOOLS = os.path.dirname(os.path.abspath(__file__))


def local_url(url):
    host = urllib.parse.urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"--url={url}: this load test only runs against 127.0.0.1 or localhost.")
    return url.rstrip("/")


async def run_level(url, texts, clients, requests, max_seconds, per_request):
    """`(seconds, latencies, failures)` of `requests` POSTs from `clients` concurrent clients."""
    import httpx

    latencies, failures, sent = [], [], [0]
    deadline = time.perf_counter() + max_seconds

    async def client(http):
        while sent[0] < requests and time.perf_counter() < deadline:
            i = sent[0]
            sent[0] += 1
            body = {"texts": [texts[(i * per_request + k) % len(texts)] for k in range(per_request)]}
            start = time.perf_counter()
            response = await http.post(f"{url}/predict", json=body)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - start)
            else:
                failures.append(response.status_code)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return time.perf_counter() - start, latencies, failures


def start_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable,
        os.path.join(TOOLS, "serve.py"),
        f"--model={FLAGS.model}",
        f"--port={port}",
        f"--instances={FLAGS.instances}",
        f"--max_batch={FLAGS.max_batch}",
        f"--max_wait_ms={FLAGS.max_wait_ms}",
        f"--batch_size={FLAGS.batch_size}",
    ]
    command += [f"--precision={FLAGS.precision}"] if FLAGS.precision else []
    command += [f"--threads={FLAGS.threads}"] if FLAGS.threads else []
    # The server's output goes to a file: a pipe nobody reads would fill and block it.
    log = tempfile.NamedTemporaryFile("w+", prefix="load-test-server-", suffix=".log", delete=False)
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    server.log = log.name
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, server)
    return server, url


def wait_healthy(url, server=None, seconds=120):
    import httpx

    deadline = time.time() + seconds
    while time.time() < deadline:
        if server is not None and server.poll() is not None:
            with open(server.log, encoding="utf-8") as f:
                lines = f.read().strip().splitlines() or [""]
            raise RuntimeError(f"the server exited: {lines[-1]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url}/health did not answer within {seconds} s.")


def main(argv):
    del argv
    from fastformers_tf.cpu import cpu_name
    from fastformers_tf.data.readers import read_lines

    if (FLAGS.url is None) == (FLAGS.model is None):
        raise ValueError("Give --url (a running server) or --model (an export to serve), not both.")
    texts = [line for _, line in read_lines(FLAGS.input_file)]
    if not texts:
        raise ValueError(f"--input_file={FLAGS.input_file} has no texts.")
    levels = [int(c) for c in FLAGS.concurrency]
    server, url = start_server() if FLAGS.model else (None, local_url(FLAGS.url))
    rows = []
    try:
        if server is None:
            wait_healthy(url)
        for clients in levels:
            seconds, latencies, failures = asyncio.run(
                run_level(url, texts, clients, FLAGS.requests, FLAGS.max_seconds, FLAGS.texts_per_request)
            )
            done = len(latencies)
            p50, p99 = (np.percentile(latencies, [50, 99]) * 1000) if done else (float("nan"),) * 2
            rows.append(
                (clients, done, len(failures), done / seconds, done * FLAGS.texts_per_request / seconds, p50, p99)
            )
            print(f"{clients} clients: {done} requests in {seconds:.1f} s", flush=True)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
            os.remove(server.log)
    print(f"\n{cpu_name()}; {FLAGS.texts_per_request} text(s) per request; {url}")
    print("| clients | requests | failed | requests/s | texts/s | p50 ms | p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| {} | {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} |".format(*row))
    if FLAGS.model:
        from fastformers_tf.bench.timing import timed
        from fastformers_tf.runtime.load import load_predictor

        with load_predictor(
            FLAGS.model, "auto", FLAGS.precision, FLAGS.threads, FLAGS.instances, batch_size=FLAGS.batch_size
        ) as predictor:
            sample = texts[: max(FLAGS.requests * FLAGS.texts_per_request, 1)]
            predictor.predict(sample[: FLAGS.batch_size])  # warm-up
            rate = len(sample) / timed(predictor.predict, sample)[0]
        best = max(row[4] for row in rows)
        ratio = f"the predictor's rate is {rate / best:.2f}x the server's" if best else "no request succeeded"
        print(
            f"\nload_predictor(...).predict in one process, batches of {FLAGS.batch_size}: {rate:.1f} texts/s over "
            f"{len(sample)} texts; the server's best is {best:.1f} texts/s ({ratio})"
        )


if __name__ == "__main__":
    cli.run(main)
