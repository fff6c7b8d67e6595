"""Plain data shared by every task: `Example`, `Task`, `DataError`."""

import dataclasses
from collections.abc import Callable

from fastformers_tf.errors import UserError


class DataError(UserError, ValueError):
    """Bad input data; the message names the file and line (or row)."""


def data_error(path, line, message):
    return DataError(f"{path}:{line}: {message}")


@dataclasses.dataclass(frozen=True)
class Example:
    """One model input: a text or text pair, optional character spans, a label.

    Args:
        guid: unique id within a split, e.g. "val-17" or "val-17-a2".
        text_a: first text.
        text_b: optional second text (pairs are encoded [CLS] a [SEP] b [SEP]).
        label: index into `Task.labels`; None for unlabeled (test) rows.
        spans: character spans the model pools, as `(segment, start, end)` with
            segment 0 for text_a and 1 for text_b, end exclusive.
        group: examples scored together share it (COPA's choices, a MultiRC
            question's answers, a ReCoRD query's candidate entities).
        meta: what decoding and submission files need (SuperGLUE `idx`,
            ReCoRD answers and entity text, ...).
    """

    guid: str
    text_a: str
    text_b: str = None
    label: int = None
    spans: tuple = ()
    group: str = None
    meta: dict = dataclasses.field(default_factory=dict, compare=False)


@dataclasses.dataclass(frozen=True)
class Task:
    """A dataset, its formulation and its metric.

    Args:
        name: registry key, e.g. "rte".
        labels: names of the model's output classes.
        files: split name -> path relative to the data directory.
        read: `read(path, split) -> list[Example]`; raises `DataError`.
        formulation: "classification" (one example per row), "candidates"
            (a binary classifier over candidates, decoded per group) or
            "spans" (classification over pooled spans).
        metric: `metric(examples, probs) -> {name: value}`, with `probs`
            `[len(examples), len(labels)]` softmax outputs; the first key is
            the one used to pick the best checkpoint.
        predictions: `predictions(examples, probs) -> list[dict]`, the records
            of a SuperGLUE-style submission file.
        submission_file: file name of that submission (e.g. "RTE.jsonl").
        num_spans: spans per example for the "spans" formulation.
        nested_phrases: the train split holds every phrase of its sentences
            (SST-2), so a hold-out is carved from whole sentences
            (`fastformers_tf.data.holdout`).
    """

    name: str
    labels: tuple
    files: dict
    read: Callable
    formulation: str
    metric: Callable
    predictions: Callable = None
    submission_file: str = None
    num_spans: int = 0
    nested_phrases: bool = False

    def has_labels(self, labels):
        """Whether a model with output `labels` (names, in order) was trained for this task's labels."""
        return list(labels) == list(self.labels)
