"""Serve an export over HTTP with micro-batching: POST /predict, GET /health, GET /metrics (Prometheus).

  python tools/serve.py --model=runs/compress/sst2/select/selected --port=8080
  curl -s localhost:8080/predict -d '{"texts": ["a fine film", "a dull one"]}'
  curl -s localhost:8080/predict -d '{"pairs": [["A man sleeps.", "Nobody sleeps."]]}'

Concurrent requests are gathered for at most --max_wait_ms or --max_batch
texts, run as one predictor call (or on --instances workers), and answered
each on its own. SIGTERM or Ctrl-C stops accepting, answers the requests in
flight, then exits. Imports no TensorFlow for ONNX and TFLite exports.
"""

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Export directory or exported file (or a Keras model folder).", required=True)
flags.DEFINE_string("host", "127.0.0.1", "Interface to listen on (0.0.0.0: every interface).")
flags.DEFINE_integer("port", 8080, "Port to listen on.", lower_bound=0, upper_bound=65535)
flags.DEFINE_integer("max_batch", 64, "Most texts per predictor call, and per request.", lower_bound=1)
flags.DEFINE_float("max_wait_ms", 5.0, "Longest a request waits for others to join its batch.", lower_bound=0)
flags.DEFINE_integer(
    "max_request_bytes", 4 << 20, "Largest request body; a larger one is answered 413 unread.", lower_bound=1
)
flags.DEFINE_boolean("truncate", True, "Truncate texts over --max_length tokens (--notruncate: refuse them, 422).")
flags.DEFINE_float("graceful_timeout_s", 30.0, "On SIGTERM, longest to wait for requests in flight.", lower_bound=0)
cli.define_predictor_flags()


def main(argv):
    del argv
    import uvicorn

    from fastformers_tf.runtime.load import load_predictor
    from fastformers_tf.serve.app import make_app

    predictor = load_predictor(
        FLAGS.model,
        FLAGS.backend,
        FLAGS.precision,
        FLAGS.threads,
        FLAGS.instances,
        FLAGS.max_length,
        FLAGS.batch_size,
    )
    if "logits" not in predictor.output_names:
        predictor.close()
        raise ValueError(f"--model={FLAGS.model} has no classification head (outputs {predictor.output_names}).")
    # What is served: the model file of an export (a Keras folder or a multi-instance predictor has none).
    info = {"model": FLAGS.model, "file": getattr(predictor, "path", None), "instances": FLAGS.instances}
    app = make_app(predictor, FLAGS.max_batch, FLAGS.max_wait_ms, FLAGS.truncate, info, FLAGS.max_request_bytes)
    print(f"serving {FLAGS.model} on http://{FLAGS.host}:{FLAGS.port} (labels {predictor.labels})", flush=True)
    uvicorn.run(
        app,
        host=FLAGS.host,
        port=FLAGS.port,
        log_level="info" if FLAGS.debug else "warning",
        timeout_graceful_shutdown=FLAGS.graceful_timeout_s,
    )


if __name__ == "__main__":
    cli.run(main)
