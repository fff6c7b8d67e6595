"""The HTTP JSON server of `tools/serve.py`: Starlette routes over a `MicroBatcher`, Prometheus metrics.

Routes:
- `POST /predict` with `{"texts": ["...", ...]}` or `{"pairs": [["a", "b"], ...]}`
  -> `{"predictions": [{"label": ..., "probabilities": {label: p}}, ...]}`,
  in request order;
- `GET /health` -> `{"status": "ok", ...}` (503 while shutting down);
- `GET /metrics`: Prometheus text format (requests by status, texts, batch
  sizes, request and batch latency, queue depth; for a cascade, the texts
  each stage answered).

A bad request gets a 4xx and `{"error": "<one line>"}`; the server keeps
serving. Starlette and uvicorn were chosen over FastAPI: the API is three
routes with a hand-checked body, so FastAPI's pydantic models and OpenAPI
layer would add dependencies without removing code.
"""

import contextlib
import json
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastformers_tf.serve.batcher import MicroBatcher

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
NAMESPACE = "fastformers"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BadRequest(ValueError):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Metrics:
    """The server's Prometheus metrics, in a registry of its own."""

    def __init__(self):
        self.registry = CollectorRegistry()
        common = {"namespace": NAMESPACE, "registry": self.registry}
        self.requests = Counter("requests", "Requests to /predict, by status.", ["status"], **common)
        self.texts = Counter("texts", "Texts classified.", **common)
        self.batch_size = Histogram("batch_size", "Texts per predictor call.", buckets=BATCH_BUCKETS, **common)
        self.batch_seconds = Histogram(
            "batch_seconds", "Seconds per predictor call.", buckets=LATENCY_BUCKETS, **common
        )
        self.latency = Histogram(
            "request_seconds", "Seconds from a /predict request to its answer.", buckets=LATENCY_BUCKETS, **common
        )
        self.queue_depth = Gauge("queue_depth", "Requests waiting for a batch.", **common)

    def on_batch(self, size, seconds):
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        self.texts.inc(size)


class CascadeAnswers:
    """`fastformers_cascade_answers_total{stage="i"}`: the texts each stage of a cascade answered."""

    def __init__(self, predictor):
        self.predictor = predictor

    def collect(self):
        family = CounterMetricFamily(
            f"{NAMESPACE}_cascade_answers", "Texts answered by each stage of the cascade.", labels=["stage"]
        )
        for stage, count in enumerate(self.predictor.answered):
            family.add_metric([str(stage)], count)
        yield family


MAX_REQUEST_BYTES = 4 << 20  # a body over this is answered 413 before it is read whole


async def read_body(request, limit):
    """The request's body, at most `limit` bytes: `BadRequest` (413) as soon as it declares or sends more."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body has {int(declared)} bytes; this server takes at most {limit} per request.", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the body exceeds {limit} bytes, the most this server takes per request.", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _texts(value, name):
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string, got {type(value).__name__}.", 422)
    if not value.strip():
        raise BadRequest(f"{name} is empty.", 422)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:  # JSON's \ud800 escapes decode to lone surrogates, which no tokenizer takes
        raise BadRequest(f"{name} is not valid Unicode (a lone surrogate at character {e.start}).") from None
    return value


def parse_request(body, max_batch):
    """`(texts, pairs or None)` of a /predict body (bytes); `BadRequest` naming what is wrong."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"the body is not JSON ({getattr(e, 'msg', e)}).") from None
    except RecursionError:
        raise BadRequest("the body nests JSON arrays or objects too deeply.") from None
    if not isinstance(request, dict) or ("texts" in request) == ("pairs" in request):
        raise BadRequest(
            'the body must be a JSON object with "texts" (a list of strings) or "pairs" (a list of [text, text_pair]).',
            422,
        )
    key = "texts" if "texts" in request else "pairs"
    rows = request[key]
    if not isinstance(rows, list) or not rows:
        raise BadRequest(f'"{key}" must be a non-empty list.', 422)
    if len(rows) > max_batch:
        raise BadRequest(f'"{key}" has {len(rows)} entries; this server takes at most {max_batch} per request.', 413)
    if key == "texts":
        return [_texts(text, f"texts[{i}]") for i, text in enumerate(rows)], None
    for i, pair in enumerate(rows):
        if not isinstance(pair, list) or len(pair) != 2:
            raise BadRequest(f"pairs[{i}] must be a list of two strings.", 422)
    return (
        [_texts(a, f"pairs[{i}][0]") for i, (a, _) in enumerate(rows)],
        [_texts(b, f"pairs[{i}][1]") for i, (_, b) in enumerate(rows)],
    )


def check_lengths(tokenizer, texts, pairs, max_length):
    """Refuses a text longer than `max_length` tokens (with its special tokens) when truncation is off."""
    encoded = tokenizer(texts, pairs, truncation=False)["input_ids"]
    for i, ids in enumerate(encoded):
        if len(ids) > max_length:
            raise BadRequest(
                f"entry {i} has {len(ids)} tokens; this model takes at most {max_length} (truncation is off).", 422
            )


def make_app(predictor, max_batch=32, max_wait_ms=5.0, truncate=True, info=None, max_request_bytes=MAX_REQUEST_BYTES):
    """The Starlette app serving `predictor` (closed when the app shuts down).

    Args:
        predictor: a `Predictor` with a tokenizer and `logits`.
        max_batch: most texts per predictor call, and per request.
        max_request_bytes: a larger body is answered 413 before it is read whole.
        max_wait_ms: longest a request waits for others to join its batch.
        truncate: truncate texts over the predictor's `max_length` (else 422).
        info: extra fields for `/health` (the model, the file served).
    """
    metrics = Metrics()
    if hasattr(predictor, "answered"):
        metrics.registry.register(CascadeAnswers(predictor))
    batcher = MicroBatcher(predictor, max_batch, max_wait_ms, on_batch=metrics.on_batch)
    metrics.queue_depth.set_function(lambda: batcher.depth)

    async def predict(request):
        start = time.perf_counter()
        try:
            texts, pairs = parse_request(await read_body(request, max_request_bytes), max_batch)
            if not truncate:
                for stage in getattr(predictor, "stages", [predictor]):  # each stage of a cascade reads every text
                    check_lengths(stage.tokenizer, texts, pairs, stage.max_length)
            results = await batcher.submit(texts, pairs)
        except BadRequest as e:
            metrics.requests.labels(str(e.status)).inc()
            return JSONResponse({"error": str(e)}, status_code=e.status)
        except Exception as e:  # shutting down, or the predictor failed on this batch (any runtime's error type)
            status = 503 if batcher.closing else 500
            metrics.requests.labels(str(status)).inc()
            message = " ".join(str(e).split())[:500] or type(e).__name__
            return JSONResponse({"error": message}, status_code=status)
        metrics.requests.labels("200").inc()
        metrics.latency.observe(time.perf_counter() - start)
        return JSONResponse({"predictions": [{"label": label, "probabilities": probs} for label, probs in results]})

    async def health(request):
        body = {"status": "ok" if batcher.running else "stopping", **(info or {}), "labels": predictor.labels}
        return JSONResponse(body, status_code=200 if batcher.running else 503)

    async def prometheus(request):
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        try:
            yield
        finally:
            # uvicorn has stopped accepting and waited for in-flight requests; answer any still queued.
            await batcher.stop()
            predictor.close()

    app = Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.metrics, app.state.batcher = metrics, batcher
    return app
