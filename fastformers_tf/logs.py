"""Quiet start-up for the tools: TensorFlow's C++ lines and libraries' INFO chatter hidden unless asked.

A new user reads `E0000 ... failed call to cuInit` on a machine without a GPU,
or tf2onnx's INFO lines, as failures. `quiet()` (called by `fastformers_tf.cli`
before anything imports TensorFlow) sets `FASTFORMERS_QUIET=1`; `backend.py`
then imports TensorFlow with its C++ logging off and its start-up lines (written
to stderr before its logger is set up) discarded. Spawned workers inherit it.
"""

import contextlib
import logging
import os
import sys
import warnings

QUIET_ENV = "FASTFORMERS_QUIET"
NOISY_LOGGERS = (
    "tensorflow",
    "tf2onnx",
    "onnxruntime",
    "transformers",
    "h5py",
    "absl",
    "apache_beam",
    "httpx",
    "httpcore",
)


def is_quiet():
    return os.environ.get(QUIET_ENV) == "1"


def quiet(enabled=True):
    """Hides TensorFlow's C++ log lines and the libraries' INFO/WARNING chatter (`enabled=False`: shows them)."""
    if not enabled:
        os.environ.pop(QUIET_ENV, None)
        return
    os.environ[QUIET_ENV] = "1"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # "None of PyTorch, TensorFlow >= 2.0, or Flax have been found": expected in the serving install.
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Libraries set their loggers' levels back to INFO as they run (tf2onnx TensorFlow's, absl the root's),
    # so the filter sits on the root's handlers (absl's), which every logger's records reach.
    for handler in logging.getLogger().handlers:
        if _warnings_and_above not in handler.filters:
            handler.addFilter(_warnings_and_above)


def _warnings_and_above(record):
    return record.levelno >= logging.WARNING
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)


@contextlib.contextmanager
def silenced_stderr():
    """Sends file descriptor 2 (C and C++ writes included) to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
