"""Save and load our own models (any sizes, pruned ones included), losslessly.

A model directory holds `fastformers_model.json` (the Keras config: class and
every size, readable and editable), `model.weights.h5` (the weights, exact
float32), and the tokenizer files when one is given.
"""

import json
import os

from fastformers_tf.backend import keras

MODEL_FILE = "fastformers_model.json"
WEIGHTS_FILE = "model.weights.h5"
FORMAT_VERSION = 1


def is_saved_model_dir(path):
    return os.path.isfile(os.path.join(path, MODEL_FILE))


def save_model(model, directory, tokenizer=None):
    """Writes `model` (and `tokenizer`) to `directory`; returns the directory."""
    os.makedirs(directory, exist_ok=True)
    config = keras.layers.serialize(model)
    # Architecture and weights only: the training setup (optimizer, loss)
    # belongs to the run's recipe, and would tie loading to training code.
    config.pop("compile_config", None)
    record = {"format_version": FORMAT_VERSION, "model": config}
    with open(os.path.join(directory, MODEL_FILE), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
    model.save_weights(os.path.join(directory, WEIGHTS_FILE))
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    return directory


def load_model(directory):
    """Rebuilds a model saved by `save_model` and loads its weights."""
    import fastformers_tf.models  # noqa: F401  (registers the classes a config names)

    path = os.path.join(directory, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {MODEL_FILE} in {directory!r}: not a directory written by save_model.")
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    if record.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {record.get('format_version')!r}, expected {FORMAT_VERSION}.")
    model = keras.layers.deserialize(record["model"])
    weights = os.path.join(directory, WEIGHTS_FILE)
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"{directory!r} has {MODEL_FILE} but no {WEIGHTS_FILE}.")
    model.load_weights(weights)
    return model
