"""Open a predictor on a Keras model, an export directory or one exported file.

An export directory (written by `fastformers_tf.export.export_all`; its layout
belongs to `fastformers_tf.artifacts`) holds the exported files, the tokenizer
files, `export.json` (label names, options, the files by backend/precision,
fused-op counts, parity) and `manifest.json`. Only the files `export.json`
lists are served, each after its sha256 is checked; a folder without its
manifest (an interrupted export) is refused. Only the Keras backend imports
TensorFlow.
"""

import functools
import json
import os

from fastformers_tf import artifacts
from fastformers_tf.artifacts import EXPORT_FILES, EXPORT_INFO_FILE, EXPORT_KIND, RAW_ONNX_FILE, ArtifactError
from fastformers_tf.errors import ArgumentError, check_positive

BACKENDS = ("keras", "onnx", "tflite")
PRECISIONS = ("fp32", "int8", "fp16")
SUFFIXES = {".onnx": "onnx", ".tflite": "tflite"}


class Export:
    """A complete export folder: its manifest and `export.json`; hands out verified files.

    Raises `ArtifactError` for a folder that was never completely written.
    """

    def __init__(self, directory):
        self.directory = directory
        self.manifest = artifacts.Manifest(directory, EXPORT_KIND)
        with open(self.manifest.path(EXPORT_INFO_FILE), encoding="utf-8") as f:
            self.info = json.load(f)
        self.files = self.info.get("files", {})  # "backend/precision" -> file name

    def model_file(self, backend, precision):
        """The verified path of the `backend`/`precision` file this export lists."""
        key = f"{backend}/{precision}"
        if key not in self.files:
            raise ArtifactError(
                f"{self.directory} has no {precision} {backend} model; it has {sorted(self.files)}. "
                "Export it with tools/export.py (--int8, --fp16, --tflite)."
            )
        return self.manifest.path(self.files[key])

    def verify_tokenizer(self):
        models = {*EXPORT_FILES.values(), RAW_ONNX_FILE}
        self.manifest.verify([name for name in self.manifest.files if name not in models])


def _export_of_file(path):
    """The `Export` around an exported file, or None for a file outside any export folder."""
    directory = os.path.dirname(os.path.abspath(path))
    if not artifacts.looks_like(directory, EXPORT_INFO_FILE):
        return None
    export = Export(directory)
    name = os.path.basename(path)
    if name not in export.files.values():
        raise ArtifactError(
            f"{path} is not one of the files {directory}/{EXPORT_INFO_FILE} lists ({sorted(export.files.values())}): "
            "left from an earlier export; it is not served."
        )
    export.manifest.verify([name])
    return export


def infer_backend(path):
    """ "onnx" or "tflite" for an exported file or export directory, else "keras"."""
    suffix = os.path.splitext(path)[1]
    if os.path.isfile(path):
        if suffix not in SUFFIXES:
            raise ArgumentError(
                f"{path}: cannot tell the backend from the suffix {suffix!r}; expected .onnx or .tflite."
            )
        return SUFFIXES[suffix]
    if os.path.isdir(path) and artifacts.looks_like(path, EXPORT_INFO_FILE):
        export = Export(path)
        if "serve" in export.info:  # a compression job's pick names its own backend
            return export.info["serve"]["backend"]
        return "onnx" if any(key.startswith("onnx/") for key in export.files) else "tflite"
    return "keras"  # a saved model or checkpoint directory, or a packaged model name


def resolve_export(path, backend, precision=None):
    """`(model file, Export or None)` for an exported file or an export directory, verified.

    `precision=None` is the export's own default (`serve` in `export.json`, as a
    compression job's pick has), else fp32.
    """
    if backend not in ("onnx", "tflite"):
        raise ArgumentError(f"Backend {backend!r} has no exported file; expected onnx or tflite.")
    if os.path.isfile(path):
        named = {file: key for key, file in EXPORT_FILES.items()}.get(os.path.basename(path))
        if precision is not None and named is not None and named != (backend, precision):
            raise ArgumentError(
                f"precision={precision}: {path} is the {named[1]} {named[0]} file of its export; pass its export "
                f"folder to choose a precision, or drop the precision."
            )
        return path, _export_of_file(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such exported file or export directory.")
    export = Export(path)
    if precision is None:
        precision = export.info.get("serve", {}).get("precision", "fp32")
    if (backend, precision) not in EXPORT_FILES:
        raise ArgumentError(
            f"No {precision} {backend} export exists in any folder; choose from {sorted(EXPORT_FILES)}."
        )
    return export.model_file(backend, precision), export


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
    raise ArgumentError(f"Unknown backend {backend!r}; expected one of {BACKENDS}.")


def load_predictor(
    path,
    backend="auto",
    precision=None,
    threads=None,
    instances=1,
    max_length=None,
    batch_size=32,
    allow_oversubscription=False,
    device="cpu",
    spin_wait=True,
):
    """A `Predictor` for a model directory, packaged model name, export directory or exported file.

    Args:
        path: for keras, what `from_pretrained` takes; for onnx/tflite, an
            exported file or an export directory (its tokenizer and label
            names are read from the directory); or a cascade folder
            (`fastformers_tf.export.cascade`), opened as a `CascadePredictor`
            whose stages each get the arguments below (with `instances` above
            1, a `CascadeWorkers`: each worker runs every stage).
        backend: "keras", "onnx", "tflite" or "auto" (from the file suffix, or
            an export directory's `export.json`; otherwise keras).
        precision: which file of an export directory: "fp32", "int8" or "fp16";
            None: the one its `export.json` names to serve (a compression
            job's `selected/`), else fp32.
        threads: T, threads per session (None: the backend's default; with
            several instances, the physical cores divided among them).
        instances: N; above 1, a `MultiInstancePredictor` of N pinned workers.
        max_length: longer texts are truncated to this many tokens (None: 128,
            or the model's `max_tokens` when lower).
        batch_size: texts per forward pass.
        allow_oversubscription: allow N x T above the physical cores.
        device: "cpu" or "gpu": onnxruntime's CUDA provider with IO binding
            (`runtime.providers`; `DeviceError` without onnxruntime-gpu).
            Keras runs where TensorFlow places it (a visible GPU first);
            TFLite runs on the CPU only.
        spin_wait: False: onnxruntime's threads sleep as soon as a call ends
            (for sessions that take turns: a cascade's stages).

    Example:
        >>> predictor = load_predictor("runs/rte/export", backend="onnx", precision="int8", threads=1, instances=2)
    """
    check_positive("instances", instances)
    check_positive("threads", threads, allow_none=True)
    cpus = len(os.sched_getaffinity(0))
    if threads and not allow_oversubscription and threads > cpus:
        raise ArgumentError(f"threads={threads} exceeds the {cpus} CPUs this process may use; lower it.")
    check_positive("batch_size", batch_size)
    check_positive("max_length", max_length, allow_none=True)
    from fastformers_tf.export.cascade import CASCADE, is_cascade

    if os.path.isdir(path) and is_cascade(path):
        if backend not in ("auto", CASCADE) or precision is not None:
            raise ArgumentError(
                f"{path} is a cascade folder: its stages name their own backend and precision; "
                "drop --backend/--precision."
            )
        from fastformers_tf.runtime.cascade import open_cascade

        return open_cascade(
            path,
            threads=threads,
            instances=instances,
            max_length=max_length,
            batch_size=batch_size,
            allow_oversubscription=allow_oversubscription,
            device=device,
        )
    backend = infer_backend(path) if backend == "auto" else backend
    if backend not in BACKENDS:
        raise ArgumentError(f"Unknown backend {backend!r}; expected one of {BACKENDS} or 'auto'.")
    device_args = {} if spin_wait or backend != "onnx" else {"spin_wait": False}
    if device != "cpu":
        if backend != "onnx":
            raise ArgumentError(f"device={device!r} is for the onnx backend (Keras finds a GPU itself), not {backend}.")
        from fastformers_tf.runtime.providers import providers_for

        providers_for(device)  # a clear error here rather than in each worker
        device_args = {**device_args, "device": device}
    if backend == "keras" and precision not in (None, "fp32"):
        raise ArgumentError(
            f"precision={precision}: a Keras model runs in fp32 only; export it (tools/export.py) for {precision}."
        )
    if backend == "keras":
        from fastformers_tf.models.encoder import encoder_of
        from fastformers_tf.models.pretrained import from_pretrained, load_tokenizer
        from fastformers_tf.runtime.keras_predictor import KerasPredictor, set_keras_threads

        if threads and instances == 1:
            set_keras_threads(threads)  # before loading the model runs TensorFlow
        model, tokenizer = from_pretrained(path), load_tokenizer(path)
        if instances == 1:
            return KerasPredictor(model, tokenizer, max_length, batch_size, threads=threads)
        model_path, labels, max_tokens = path, getattr(model, "labels", None), encoder_of(model).config.max_tokens
    else:
        model_path, export = resolve_export(path, backend, precision)
        directory = export.directory if export else os.path.dirname(os.path.abspath(model_path))
        if export:
            export.verify_tokenizer()
        tokenizer = load_export_tokenizer(directory)
        labels = export.info.get("labels") if export else None
        max_tokens = export.info.get("max_tokens") if export else None
        if instances == 1:
            return open_backend(
                backend,
                model_path,
                threads,
                tokenizer=tokenizer,
                labels=labels,
                max_length=max_length,
                batch_size=batch_size,
                max_tokens=max_tokens,
                **device_args,
            )

    from fastformers_tf.runtime.multi_instance import MultiInstancePredictor, physical_cores

    threads = threads or max(1, len(physical_cores()) // instances)
    return MultiInstancePredictor(
        functools.partial(open_backend, backend, model_path, threads, **device_args),
        tokenizer,
        labels,
        instances,
        threads,
        max_length,
        batch_size,
        allow_oversubscription=allow_oversubscription,
        max_tokens=max_tokens,
    )
