"""Artefact folders: their layouts, their manifest, and the one way they are written.

Every folder a stage writes (a saved model, an export, fine-tuning's `best/`,
the later distillation/pruning/compression outputs) is written into a
temporary folder beside the target and renamed into place only when complete,
so an interrupted write leaves the previous folder as it was. The last file
written into the temporary folder is `manifest.json`, the completion record:
the artefact's kind and every other file's size and sha256. A folder without
it is never loaded, and a file whose checksum differs is never served.

Nothing here imports TensorFlow: the serving path reads exports with it.
"""

import contextlib
import datetime
import glob
import hashlib
import json
import os
import shutil
import signal
import tempfile
import uuid

from fastformers_tf.errors import UserError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "fastformers_tf artifact"
MANIFEST_VERSION = 1

# === Layouts ===

# A saved model (`models/saving.py`): the Keras config, the weights, the tokenizer files.
MODEL_KIND = "model"
MODEL_FILE = "fastformers_model.json"
WEIGHTS_FILE = "model.weights.h5"

# An export (`export/pipeline.py` writes it, `runtime/load.py` reads it).
EXPORT_KIND = "export"
EXPORT_INFO_FILE = "export.json"  # options, labels, fused-op counts, parity, `files` by "backend/precision"
RAW_ONNX_FILE = "model.onnx"  # tf2onnx's graph, before fusion: kept for inspection
HF_CONFIG_FILE = "config.json"  # Hugging Face's config of an export, for optimum and transformers.pipeline
EXPORT_FILES = {
    ("onnx", "fp32"): "model.opt.onnx",
    ("onnx", "int8"): "model.int8.onnx",
    ("onnx", "fp16"): "model.fp16.onnx",
    ("tflite", "fp32"): "model.tflite",
    ("tflite", "int8"): "model.int8.tflite",
}

# Files that mark a folder as one of ours (also those written before manifests existed).
_MARKERS = (MANIFEST_FILE, MODEL_FILE, EXPORT_INFO_FILE)


class ArtifactError(UserError, ValueError):
    """An artefact folder that is incomplete, of another kind, or whose files changed since written."""


# === Writing ===


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_under(directory):
    names = []
    for root, _, files in os.walk(directory):
        for file in files:
            names.append(os.path.relpath(os.path.join(root, file), directory).replace(os.sep, "/"))
    return sorted(name for name in names if name != MANIFEST_FILE)


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_manifest(directory, kind):
    """Writes `manifest.json` listing every file under `directory`; returns the record."""
    from fastformers_tf import __version__

    files = {
        name: {
            "bytes": os.path.getsize(os.path.join(directory, name)),
            "sha256": sha256_of(os.path.join(directory, name)),
        }
        for name in _files_under(directory)
    }
    record = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "kind": kind,
        "created": _now(),
        "fastformers_tf": __version__,
        "files": files,
    }
    write_text(os.path.join(directory, MANIFEST_FILE), json.dumps(record, indent=2))
    return record


def write_text(path, text):
    """Writes a text file atomically: a temporary file beside it, flushed, then renamed over it."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path, data):
    """Writes a file atomically (see `write_text`); returns the path."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    return path


def write_json(path, record):
    return write_text(path, json.dumps(record, indent=2) + "\n")


def _siblings(target, what):
    parent, name = os.path.split(target)
    return glob.glob(os.path.join(parent, f".{glob.escape(name)}.{what}-*"))


def _kind_of(directory, entries):
    """The kind of artefact a folder holds: its manifest's, else what its files say (None: none of ours)."""
    if MANIFEST_FILE in entries:
        try:
            with open(os.path.join(directory, MANIFEST_FILE), encoding="utf-8") as f:
                return json.load(f).get("kind")
        except (OSError, ValueError, AttributeError):
            return None
    if MODEL_FILE in entries:
        return MODEL_KIND
    return EXPORT_KIND if EXPORT_INFO_FILE in entries else None


def refuse_export_folder(directory):
    """Raises `ArtifactError` when `directory` is an export (served files) where a trained model folder is needed."""
    if os.path.isfile(os.path.join(directory, EXPORT_INFO_FILE)):
        raise ArtifactError(
            f"{directory} is an export folder (ONNX/TFLite files for serving, from tools/export.py); this needs a "
            "trained model folder (a run's best/, or a checkpoint)."
        )


def _check_replaceable(target, kind):
    """Refuses to replace a folder that is not ours, or ours of another kind (a trained model by an export)."""
    if not os.path.lexists(target):
        return
    if not os.path.isdir(target):
        raise ArtifactError(f"{target} exists and is not a folder; choose another output path.")
    entries = os.listdir(target)
    if entries and not any(marker in entries for marker in _MARKERS):
        shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
        raise ArtifactError(
            f"{target} is not empty and was not written by fastformers_tf (it holds {shown}); "
            "choose another output folder or empty it: it would be replaced as a whole."
        )
    existing = _kind_of(target, entries)
    if entries and existing is not None and existing != kind:
        raise ArtifactError(
            f"{target} holds a fastformers_tf {existing} folder, which writing a {kind} there would replace; "
            f"a {kind} replaces only a {kind}: choose another output folder."
        )


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT/SIGTERM wait until the block ends, so a swap of two renames is never cut in half."""
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _recover(target):
    """Puts back a previous folder that a killed swap left aside (SIGKILL between the two renames)."""
    if os.path.lexists(target):
        return
    for old in sorted(_siblings(target, "old"), key=os.path.getmtime, reverse=True):
        if os.path.isfile(os.path.join(old, MANIFEST_FILE)):
            os.rename(old, target)
            return


def _swap(source, target):
    """Renames the complete folder `source` to `target`, a previous `target` moved aside first and removed after."""
    parent, name = os.path.split(target)
    old = None
    with _signals_deferred():
        if os.path.lexists(target):
            old = os.path.join(parent, f".{name}.old-{uuid.uuid4().hex[:12]}")
            os.rename(target, old)
        os.rename(source, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def move_into_place(source, target):
    """Moves a complete artefact folder `source` (its manifest checked) to `target` on the same file system.

    A `target` that fastformers_tf did not write, or holds another kind, is refused, as by `writing`.
    """
    target = os.path.abspath(target)
    kind = Manifest(source).kind
    _recover(target)
    _check_replaceable(target, kind)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    _swap(source, target)
    return target


@contextlib.contextmanager
def writing(target, kind):
    """Yields a temporary folder to write an artefact of `kind` into; on success it replaces `target`.

    When the block ends without an exception, `manifest.json` is written and
    the temporary folder is renamed to `target` (a previous `target` is moved
    aside first and removed after; the two renames run with SIGINT/SIGTERM
    deferred). When it raises (KeyboardInterrupt included), the temporary
    folder is removed and `target` is untouched. A `target` that holds files
    but is not one of our artefact folders is refused, never replaced.

    Example:
        >>> with writing("runs/rte/export", "export") as folder:
        ...     write_json(os.path.join(folder, "export.json"), {...})
    """
    target = os.path.abspath(target)
    _recover(target)
    _check_replaceable(target, kind)
    parent, name = os.path.split(target)
    os.makedirs(parent, exist_ok=True)
    for stale in _siblings(target, "partial"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)
    staging = tempfile.mkdtemp(prefix=f".{name}.partial-", dir=parent)
    try:
        yield staging
        write_manifest(staging, kind)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# === Reading ===


class Manifest:
    """The completion record of an artefact folder; hands out its files after checking their sha256.

    Args:
        directory: the artefact folder.
        kind: the kind expected ("model", "export"), or None for any.

    Raises `ArtifactError` when the folder has no (readable) manifest, i.e. it
    was never completely written, or holds another kind of artefact.

    Example:
        >>> manifest = Manifest("runs/rte/export", "export")
        >>> path = manifest.path("model.int8.onnx")  # verified
    """

    def __init__(self, directory, kind=None):
        self.directory = directory
        path = os.path.join(directory, MANIFEST_FILE)
        if not os.path.isfile(path):
            raise ArtifactError(
                f"{directory} has no {MANIFEST_FILE}: it was not completely written (an interrupted or failed run); "
                "write it again."
            )
        try:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
            self.kind, self.files = record["kind"], record["files"]
        except (ValueError, KeyError, TypeError) as e:
            raise ArtifactError(f"{path}: unreadable manifest ({e}); write the folder again.") from None
        if record.get("format") != MANIFEST_FORMAT or record.get("version") != MANIFEST_VERSION:
            raise ArtifactError(f"{path}: not a {MANIFEST_FORMAT} manifest of version {MANIFEST_VERSION}.")
        if kind is not None and self.kind != kind:
            raise ArtifactError(f"{directory} holds a {self.kind!r} artefact, not a {kind!r} one.")
        self._verified = set()

    def verify(self, names=None):
        """Checks that each listed file (default: all) is present, of its size and sha256."""
        for name in self.files if names is None else names:
            if name in self._verified:
                continue
            if name not in self.files:
                raise ArtifactError(f"{self.directory}: {name} is not one of the files its {MANIFEST_FILE} lists.")
            path = os.path.join(self.directory, name)
            expected = self.files[name]
            if not os.path.isfile(path):
                raise ArtifactError(f"{path} is missing; the folder is incomplete: write it again.")
            size = os.path.getsize(path)
            if size != expected["bytes"] or sha256_of(path) != expected["sha256"]:
                raise ArtifactError(
                    f"{path} changed after it was written ({size} bytes, {expected['bytes']} recorded; sha256 "
                    "differs): truncated or modified. Write the folder again."
                )
            self._verified.add(name)

    def path(self, name):
        """The full path of a listed file, after verifying it."""
        self.verify([name])
        return os.path.join(self.directory, name)


def looks_like(directory, marker):
    """True when `directory` holds `marker` (e.g. `MODEL_FILE`), complete or not: for error messages and dispatch."""
    return os.path.isfile(os.path.join(directory, marker))
