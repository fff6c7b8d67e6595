"""Save and load our own models (any sizes, pruned ones included), losslessly.

A model folder (see `fastformers_tf.artifacts`) holds `fastformers_model.json`
(the Keras config: class and every size, readable), `model.weights.h5` (the
weights, exact float32), the tokenizer files when one is given, any extra
files of the stage that wrote it (e.g. `recipe.yaml`), and `manifest.json`.
It is written into a temporary folder and renamed into place when complete.
"""

import json
import os

from fastformers_tf import artifacts
from fastformers_tf.artifacts import MODEL_FILE, MODEL_KIND, WEIGHTS_FILE, ArtifactError
from fastformers_tf.backend import keras

FORMAT_VERSION = 1


def is_saved_model_dir(path):
    """True for a folder `save_model` wrote (complete or not: `load_model` says which)."""
    return artifacts.looks_like(path, MODEL_FILE)


def write_model(model, directory, tokenizer=None, files=None):
    """Writes the model files into an existing folder (no manifest: `save_model` adds it)."""
    config = keras.layers.serialize(model)
    # Architecture and weights only: the training setup (optimizer, loss)
    # belongs to the run's recipe, and would tie loading to training code.
    config.pop("compile_config", None)
    with open(os.path.join(directory, MODEL_FILE), "w", encoding="utf-8") as f:
        json.dump({"format_version": FORMAT_VERSION, "model": config}, f, indent=2)
    model.save_weights(os.path.join(directory, WEIGHTS_FILE))
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    for name, text in (files or {}).items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(text)


def save_model(model, directory, tokenizer=None, files=None):
    """Writes `model` (and `tokenizer`) to `directory`, replacing it only once complete; returns it.

    Args:
        model: a task model or encoder.
        directory: the model folder (created; a previous model there is replaced).
        tokenizer: a transformers tokenizer saved beside it.
        files: `{file name: text}` written along (e.g. the run's `recipe.yaml`).
    """
    with artifacts.writing(directory, MODEL_KIND) as folder:
        write_model(model, folder, tokenizer, files)
    return directory


def copy_model_folder(source, target):
    """Copies a complete model folder (its checksums verified first) to `target`, atomically; returns `target`."""
    import shutil

    manifest = artifacts.Manifest(source, MODEL_KIND)
    manifest.verify()
    with artifacts.writing(target, MODEL_KIND) as folder:
        for name in manifest.files:
            os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
            shutil.copy2(os.path.join(source, name), os.path.join(folder, name))
    return target


def load_model(directory):
    """Rebuilds a model saved by `save_model` and loads its weights, after checking their sha256."""
    import fastformers_tf.models  # noqa: F401  (registers the classes a config names)

    artifacts.refuse_export_folder(directory)
    if not is_saved_model_dir(directory):
        raise FileNotFoundError(f"No {MODEL_FILE} in {directory!r}: not a folder written by save_model.")
    manifest = artifacts.Manifest(directory, MODEL_KIND)
    path = manifest.path(MODEL_FILE)
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    if record.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path}: format_version {record.get('format_version')!r}, expected {FORMAT_VERSION}.")
    model = keras.layers.deserialize(record["model"])
    model.load_weights(manifest.path(WEIGHTS_FILE))
    return model
