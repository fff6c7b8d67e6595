"""Open a predictor on a Keras model, an export directory or one exported file.

An export directory (written by `fastformers_tf.export.export_all`) holds the
exported files under fixed names, the tokenizer files and `export.json` (label
names, options, fused-op counts, parity). Only the Keras backend imports
TensorFlow.
"""

import functools
import json
import os

BACKENDS = ("keras", "onnx", "tflite")
PRECISIONS = ("fp32", "int8", "fp16")
INFO_FILE = "export.json"
RAW_ONNX_FILE = "model.onnx"  # tf2onnx's graph, before fusion: kept for inspection
EXPORT_FILES = {
    ("onnx", "fp32"): "model.opt.onnx",
    ("onnx", "int8"): "model.int8.onnx",
    ("onnx", "fp16"): "model.fp16.onnx",
    ("tflite", "fp32"): "model.tflite",
    ("tflite", "int8"): "model.int8.tflite",
}
SUFFIXES = {".onnx": "onnx", ".tflite": "tflite"}


def read_export_info(directory):
    """`export.json` of an export directory, or {} when there is none."""
    path = os.path.join(directory, INFO_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def infer_backend(path):
    """ "onnx" or "tflite" for an exported file or export directory, else "keras"."""
    suffix = os.path.splitext(path)[1]
    if os.path.isfile(path):
        if suffix not in SUFFIXES:
            raise ValueError(f"{path}: cannot tell the backend from the suffix {suffix!r}; expected .onnx or .tflite.")
        return SUFFIXES[suffix]
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, INFO_FILE)):
        return (
            "onnx" if any(f.endswith(".onnx") for f in read_export_info(path).get("files", {}).values()) else "tflite"
        )
    return "keras"  # a saved model or checkpoint directory, or a packaged model name


def resolve_export(path, backend, precision="fp32"):
    """`(model file, export directory)` for an exported file or an export directory."""
    if backend not in ("onnx", "tflite"):
        raise ValueError(f"Backend {backend!r} has no exported file; expected onnx or tflite.")
    if os.path.isfile(path):
        return path, os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such exported file or export directory.")
    if (backend, precision) not in EXPORT_FILES:
        raise ValueError(f"No {precision} {backend} export; choose from {sorted(EXPORT_FILES)}.")
    file = os.path.join(path, EXPORT_FILES[backend, precision])
    if not os.path.isfile(file):
        present = sorted(name for name in EXPORT_FILES.values() if os.path.isfile(os.path.join(path, name)))
        raise FileNotFoundError(
            f"{path} has no {EXPORT_FILES[backend, precision]} ({precision} {backend}); it has {present}. "
            "Export it with tools/export.py (--int8, --fp16, --tflite)."
        )
    return file, path


def load_export_tokenizer(directory):
    """The tokenizer saved beside an export, with transformers (which imports no TensorFlow for this)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(directory, use_fast=True)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"No usable tokenizer files in {directory!r}: {e}") from e


def open_backend(backend, path, threads=None, **kwargs):
    """A predictor without tokenizer on one model (the part each multi-instance worker opens)."""
    if backend == "onnx":
        from fastformers_tf.runtime.onnx_predictor import OnnxPredictor

        return OnnxPredictor(path, threads=threads, **kwargs)
    if backend == "tflite":
        from fastformers_tf.runtime.tflite_predictor import TfLitePredictor

        return TfLitePredictor(path, threads=threads, **kwargs)
    if backend == "keras":
        from fastformers_tf.models.pretrained import from_pretrained
        from fastformers_tf.runtime.keras_predictor import KerasPredictor, set_keras_threads

        if threads:
            set_keras_threads(threads)  # before loading the model runs TensorFlow
        return KerasPredictor(from_pretrained(path), threads=threads, **kwargs)
    raise ValueError(f"Unknown backend {backend!r}; expected one of {BACKENDS}.")


def load_predictor(
    path,
    backend="auto",
    precision="fp32",
    threads=None,
    instances=1,
    max_length=128,
    batch_size=32,
    allow_oversubscription=False,
):
    """A `Predictor` for a model directory, packaged model name, export directory or exported file.

    Args:
        path: for keras, what `from_pretrained` takes; for onnx/tflite, an
            exported file or an export directory (its tokenizer and label
            names are read from the directory).
        backend: "keras", "onnx", "tflite" or "auto" (from the file suffix, or
            an export directory's `export.json`; otherwise keras).
        precision: which file of an export directory: "fp32", "int8" or "fp16".
        threads: T, threads per session (None: the backend's default; with
            several instances, the physical cores divided among them).
        instances: N; above 1, a `MultiInstancePredictor` of N pinned workers.
        max_length: longer texts are truncated to this many tokens.
        batch_size: texts per forward pass.
        allow_oversubscription: allow N x T above the physical cores.

    Example:
        >>> predictor = load_predictor("runs/rte/export", backend="onnx", precision="int8", threads=1, instances=2)
    """
    backend = infer_backend(path) if backend == "auto" else backend
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; expected one of {BACKENDS} or 'auto'.")
    if backend == "keras":
        from fastformers_tf.models.pretrained import from_pretrained, load_tokenizer
        from fastformers_tf.runtime.keras_predictor import KerasPredictor, set_keras_threads

        if threads and instances == 1:
            set_keras_threads(threads)  # before loading the model runs TensorFlow
        model, tokenizer = from_pretrained(path), load_tokenizer(path)
        if instances == 1:
            return KerasPredictor(model, tokenizer, max_length, batch_size, threads=threads)
        model_path, labels = path, getattr(model, "labels", None)
    else:
        model_path, directory = resolve_export(path, backend, precision)
        tokenizer = load_export_tokenizer(directory)
        labels = read_export_info(directory).get("labels")
        if instances == 1:
            return open_backend(
                backend, model_path, threads, tokenizer=tokenizer, labels=labels, max_length=max_length,
                batch_size=batch_size,
            )  # fmt: skip

    from fastformers_tf.runtime.multi_instance import MultiInstancePredictor, physical_cores

    threads = threads or max(1, len(physical_cores()) // instances)
    return MultiInstancePredictor(
        functools.partial(open_backend, backend, model_path, threads),
        tokenizer,
        labels,
        instances,
        threads,
        max_length,
        batch_size,
        allow_oversubscription=allow_oversubscription,
    )
