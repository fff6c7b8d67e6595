"""`TaskData`: one split of a task, its examples and cached tokenized features, scored by any predictor.

Nothing here imports TensorFlow: an ONNX or TFLite export is evaluated with
the serving install. Training adds a `tf.data` pipeline on top
(`fastformers_tf.train.tasks.TaskData`).
"""

import os

import numpy as np

from fastformers_tf.data.batching import cached_features, pad_batch, softmax
from fastformers_tf.data.examples import DataError
from fastformers_tf.data.holdout import HOLDOUT, carve


class TaskData:
    """One split of a task: its examples and cached tokenized features.

    Args:
        task: a `Task`.
        split: split name, e.g. "train" or "val".
        data_dir: the data directory the task's file paths are relative to.
        tokenizer: the model's tokenizer.
        max_length: tokens kept per example.
        cache_dir: where tokenized features are cached (None: memory only).
        max_examples: 0 for all, else a random subset of this size (`seed`).
        holdout: a `HoldoutSpec` (or None): split "holdout" is then the part
            carved from `holdout.split`, and that split is the rest
            (`fastformers_tf.data.holdout`); `carve` holds the cut.
    """

    def __init__(self, task, split, data_dir, tokenizer, max_length, cache_dir=None, max_examples=0, seed=0,
                 holdout=None):  # fmt: skip
        source = split
        if split == HOLDOUT:
            if holdout is None:
                raise ValueError(
                    f"Split {HOLDOUT!r} is carved from train: set holdout.examples or holdout.fraction in the recipe."
                )
            source = holdout.split
        if source not in task.files:
            raise ValueError(f"Task {task.name!r} has no split {source!r}; it has {sorted(task.files)}.")
        self.task, self.split = task, split
        self.path = os.path.join(data_dir, task.files[source])
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"No {source} file for task {task.name!r}: {self.path}")
        self.examples = task.read(self.path, source)
        if not self.examples:
            raise DataError(f"{self.path}: no examples in the {task.name} {source} file.")
        self.features = cached_features(task, source, self.path, self.examples, tokenizer, max_length, cache_dir)
        self.key = split
        self.carve = None
        if holdout is not None and source == holdout.split:
            self.carve = _carve(self.path, self.examples, holdout, task.nested_phrases)
            keep = self.carve.holdout if split == HOLDOUT else self.carve.train
            self.examples = [self.examples[i] for i in keep]
            self.features = self.features.subset(keep)
            self.key = f"{split}-holdout{holdout.digest()}"
        if max_examples and max_examples < len(self.examples):
            keep = np.sort(np.random.default_rng(seed).choice(len(self.examples), max_examples, replace=False))
            self.examples = [self.examples[i] for i in keep]
            self.features = self.features.subset(keep)
            self.key = f"{self.key}-n{max_examples}-seed{seed}"
        self.pad_id = tokenizer.pad_token_id or 0

    @classmethod
    def of_examples(cls, task, split, path, examples, tokenizer, max_length, cache_dir=None, key=None):
        """Data over given `examples` (a transfer source) read from `path`; `key` names their feature cache."""
        data = cls.__new__(cls)
        data.task, data.split, data.path, data.examples = task, split, path, list(examples)
        data.key, data.carve = key or split, None
        data.features = cached_features(task, data.key, path, data.examples, tokenizer, max_length, cache_dir)
        data.pad_id = tokenizer.pad_token_id or 0
        return data

    def keeps(self, example):
        """Whether a training example from elsewhere (a transfer source) may be trained on beside this split."""
        return self.carve is None or self.carve.keeps(example)

    def __len__(self):
        return len(self.examples)

    def batch_inputs(self, model, indices):
        """The padded inputs of `model` for the examples at `indices`."""
        return pad_batch(self.features, indices, self.pad_id, with_segments="segment_ids" in model.input)

    def predict_probs(self, predictor, batch_size, progress=True):
        """Softmax outputs `[n, num_labels]` in example order (batches sorted by length).

        `predictor` is any `fastformers_tf.runtime.Predictor` (Keras, an ONNX
        Runtime or TFLite export, several instances), so every backend is
        scored alike; `fastformers_tf.train.tasks.TaskData` also takes a Keras model.
        """
        description = f"{self.task.name}/{self.split}" if progress else None
        logits = predictor.logits_of(self.features, self.pad_id, batch_size, description)
        if logits.shape[-1] != len(self.task.labels):
            raise DataError(
                f"The model gives {logits.shape[-1]} logits per example, but task {self.task.name} has "
                f"{len(self.task.labels)} labels {list(self.task.labels)}: a model of another task."
            )
        return softmax(logits.astype(np.float32)).reshape(len(self), len(self.task.labels))

    def evaluate(self, predictor, batch_size, progress=True):
        """`(metrics, probs)` on this split."""
        probs = self.predict_probs(predictor, batch_size, progress)
        return self.task.metric(self.examples, probs), probs


_CARVES = {}


def carved(task, spec, data_dir):
    """The `holdout.Carve` of `spec.split` of `task` under `data_dir` (without tokenizing anything)."""
    path = os.path.join(data_dir, task.files[spec.split])
    return _carve(path, task.read(path, spec.split), spec, task.nested_phrases)


def _carve(path, examples, spec, nested_phrases):
    """`holdout.carve`, once per file version and spec in a process (SST-2's takes seconds)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, spec, nested_phrases)
    if key not in _CARVES:
        _CARVES[key] = carve(examples, spec, nested_phrases)
    return _CARVES[key]
