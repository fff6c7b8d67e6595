"""Rows to `Example`s: field access with row errors, labels by name, and the file loop.

A task's reader is `reader(make, rows)`: `rows(path)` yields `(line, row)`
pairs (`readers.read_jsonl`, `read_tsv`, ...), `make(row, split, n, where)`
turns one row into its `Example`s, and a bad row raises `RowError`, which
`read_examples` reports as a `DataError` at `file:line`.
"""

from fastformers_tf.data.examples import data_error
from fastformers_tf.data.readers import read_jsonl


class RowError(Exception):
    """A bad row: `read_examples` raises it as a `DataError` at file:line (batch scoring dead-letters it)."""


def field(row, key):
    if not isinstance(row, dict) or key not in row:
        raise RowError(f"missing field {key!r}")
    return row[key]


def text_field(row, key, allow_empty=False):
    value = field(row, key)
    if not isinstance(value, str):
        raise RowError(f"expected text in field {key!r}, got {value!r}")
    if not value.strip() and not allow_empty:
        raise RowError(f"empty text in field {key!r}")
    return value


def label_name(value):
    # JSON booleans become "true"/"false" and numbers their decimal text, so one names tuple fits every file.
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def label_index(row, key, names):
    """Index of `row[key]` in `names`; None when the row has no such field (unlabeled)."""
    if key not in row:
        return None
    name = label_name(row[key])
    if name not in names:
        raise RowError(f"unknown label {row[key]!r} in field {key!r}; expected one of {list(names)}")
    return names.index(name)


def read_examples(path, split, rows, make):
    """`make(row, split, n, where) -> [Example]` over `rows(path)`; bad rows raise a `DataError` at file:line."""
    examples, labeled = [], None
    for n, (line, row) in enumerate(rows(path)):
        try:
            new = make(row, split, n, f"{path}:{line}")
        except RowError as e:
            raise data_error(path, line, str(e)) from None
        for example in new:
            if labeled is None:
                labeled = example.label is not None
            elif labeled != (example.label is not None):
                raise data_error(
                    path,
                    line,
                    "unlabeled, but earlier rows are labeled" if labeled else "labeled, but earlier rows are not",
                )
        examples.extend(new)
    return examples


def reader(make, rows=read_jsonl):
    def read(path, split):
        return read_examples(path, split, rows, make)

    return read
