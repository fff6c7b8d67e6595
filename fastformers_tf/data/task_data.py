"""`TaskData`: one split of a task, its examples and cached tokenized features, scored by any predictor.

Nothing here imports TensorFlow: an ONNX or TFLite export is evaluated with
the serving install. Training adds a `tf.data` pipeline on top
(`fastformers_tf.train.tasks.TaskData`).
"""

import dataclasses
import os

import numpy as np

from fastformers_tf.data.batching import Features, cached_features, pad_batch, softmax
from fastformers_tf.data.examples import DataError
from fastformers_tf.data.holdout import HOLDOUT, carve


@dataclasses.dataclass(eq=False)
class TaskData:
    """One split of a task: its examples and their tokenized features (`TaskData.read` loads one).

    Attributes:
        task: the `Task`.
        split: the split's name, e.g. "train", "val" or "holdout".
        path: the file its examples were read from.
        examples: the `Example`s, in file order (less a carved hold-out or a subset).
        features: their tokenized rows (`fastformers_tf.data.batching.Features`).
        pad_id: the tokenizer's padding id.
        key: names the rows (split, hold-out, subset) in feature and logit caches.
        carve: the `holdout.Carve` of the file when the split was carved, else None.
    """

    task: object
    split: str
    path: str
    examples: list
    features: object
    pad_id: int
    key: str
    carve: object = None

    @classmethod
    def read(cls, task, split, data_dir, tokenizer, max_length, cache_dir=None, max_examples=0, seed=0, holdout=None):
        """Reads and tokenizes (through the feature cache) one split of `task`.

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
        source = split
        if split == HOLDOUT:
            if holdout is None:
                raise ValueError(
                    f"Split {HOLDOUT!r} is carved from train: set holdout.examples or holdout.fraction in the recipe."
                )
            source = holdout.split
        if source not in task.files:
            raise ValueError(f"Task {task.name!r} has no split {source!r}; it has {sorted(task.files)}.")
        path = os.path.join(data_dir, task.files[source])
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No {source} file for task {task.name!r}: {path}")
        examples = task.read(path, source)
        if not examples:
            raise DataError(f"{path}: no examples in the {task.name} {source} file.")
        features = cached_features(task, source, path, examples, tokenizer, max_length, cache_dir)
        key, cut = split, None
        if holdout is not None and source == holdout.split:
            cut = _carve(path, examples, holdout, task.nested_phrases)
            keep = cut.holdout if split == HOLDOUT else cut.train
            examples, features = [examples[i] for i in keep], features.subset(keep)
            key = f"{split}-holdout{holdout.digest()}"
        if max_examples and max_examples < len(examples):
            keep = np.sort(np.random.default_rng(seed).choice(len(examples), max_examples, replace=False))
            examples, features = [examples[i] for i in keep], features.subset(keep)
            key = f"{key}-n{max_examples}-seed{seed}"
        return cls(task, split, path, examples, features, tokenizer.pad_token_id or 0, key, cut)

    @classmethod
    def of_examples(cls, task, split, path, examples, tokenizer, max_length, cache_dir=None, key=None):
        """Data over given `examples` (a transfer source) read from `path`; `key` names their feature cache."""
        features = cached_features(task, key or split, path, list(examples), tokenizer, max_length, cache_dir)
        return cls(task, split, path, list(examples), features, tokenizer.pad_token_id or 0, key or split)

    @classmethod
    def joined(cls, parts, split):
        """The rows of `parts` (data of one task and tokenizer), one after the other, as split `split`."""
        examples = [e for p in parts for e in p.examples]
        features = Features.concat([p.features for p in parts])
        return cls(
            parts[0].task, split, parts[0].path, examples, features, parts[0].pad_id, "+".join(p.key for p in parts)
        )

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
        if getattr(predictor, "takes_texts", False):  # a cascade: each stage tokenizes the texts its own way
            if self.task.formulation == "spans":
                raise DataError(f"Task {self.task.name} classifies token spans; a cascade classifies texts.")
            pairs = [e.text_b for e in self.examples]
            logits = predictor.logits([e.text_a for e in self.examples], None if None in pairs else pairs)
        else:
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
