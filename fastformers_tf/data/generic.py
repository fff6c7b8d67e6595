"""Classification tasks over any file with named columns (CSV, TSV, JSONL or a row reader): `make_generic_task`."""

import os
import re

from fastformers_tf.data.examples import DataError, Example, Task, data_error
from fastformers_tf.data.metrics import classification_metric
from fastformers_tf.data.readers import read_csv, read_jsonl, read_lines, read_tsv
from fastformers_tf.data.rows import label_index, label_name, reader, text_field

TREC_LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
FORMATS = {"csv": read_csv, "tsv": read_tsv, "jsonl": read_jsonl}


def read_trec(path):
    """Yields `(line_number, {"label": coarse, "fine": "coarse:fine", "text": question})` from TREC's lines.

    Example:
        `DESC:manner How did serfdom develop in and then leave Russia ?` gives label "DESC".
    """
    for number, line in read_lines(path):
        match = re.fullmatch(r"([A-Z]+):(\S+) (.*)", line)
        if not match:
            raise data_error(path, number, f"expected 'COARSE:fine question', got {line[:40]!r}")
        yield number, {"label": match[1], "fine": f"{match[1]}:{match[2]}", "text": match[3]}


def row_texts(row, text_column, text_pair_column=None):
    """`(text_a, text_b or None)` of a generic task's row; `RowError` when a column is missing or empty."""
    return text_field(row, text_column), text_field(row, text_pair_column) if text_pair_column else None


def make_generic_task(
    name,
    files,
    text_column,
    label_column,
    text_pair_column=None,
    labels=None,
    file_format="csv",
    metrics=("accuracy",),
    data_dir=None,
    label_names=None,
    nested_phrases=False,
):
    """A classification task over files with named columns.

    Args:
        name: the task name.
        files: split -> path relative to the data directory.
        text_column, text_pair_column: column(s) with text_a (and text_b).
        label_column: column with the label; a file without it (or JSONL rows
            without the key) loads unlabeled.
        labels: label names. None infers them from the "train" file under
            `data_dir`: every distinct value, sorted as strings (JSON booleans
            read as "false"/"true").
        file_format: "csv", "tsv", "jsonl" (with a header / keys naming the
            columns), or a function `rows(path)` yielding `(line_number, dict)`.
        metrics: names for `classification_metric`, main metric first.
        data_dir: only used to infer `labels`.
        label_names: the name a model and its users see for each label value
            in the files (e.g. {"0": "negative", "1": "positive"}); None: the
            values themselves.
        nested_phrases: see `Task.nested_phrases`.

    Example:
        >>> task = make_generic_task("news", {"train": "news/train.csv"}, "title", "topic",
        ...                          labels=("business", "sports"))
    """
    rows = FORMATS.get(file_format, file_format)
    if not callable(rows):
        raise ValueError(f"Unknown file_format {file_format!r}; use one of {sorted(FORMATS)} or a row reader.")
    if labels is None:
        if data_dir is None or "train" not in files:
            raise ValueError(f"Task {name!r}: give `labels`, or `data_dir` and a 'train' file to infer them from.")
        path = os.path.join(data_dir, files["train"])
        labels = sorted({label_name(row[label_column]) for _, row in rows(path) if label_column in row})
        if not labels:
            raise DataError(f"{path}: no {label_column!r} values to infer the labels of task {name!r} from.")
    values = tuple(labels)
    if label_names is not None and sorted(label_names) != sorted(values):
        raise ValueError(f"Task {name!r}: label_names {label_names} do not name exactly the labels {list(values)}.")
    names = tuple(label_names[v] for v in values) if label_names else values

    def make(row, split, n, where):
        text_a, text_b = row_texts(row, text_column, text_pair_column)
        return [Example(f"{split}-{n}", text_a, text_b, label_index(row, label_column, values), meta={"idx": n})]

    return Task(
        name,
        names,
        dict(files),
        reader(make, rows),
        "classification",
        classification_metric(*metrics),
        nested_phrases=nested_phrases,
    )
