"""Rows of the files `tools/score.py` reads: text, JSONL, CSV and TSV (compressed too), bad rows as dead letters."""

import os
import typing

import apache_beam as beam
from apache_beam.metrics import Metrics

from fastformers_tf.data.examples import DataError
from fastformers_tf.data.generic import row_texts
from fastformers_tf.data.readers import read_csv, read_jsonl, read_lines, read_tsv
from fastformers_tf.data.rows import RowError

NAMESPACE = "fastformers_tf"
FORMATS = ("auto", "jsonl", "csv", "tsv", "text")
SUFFIX_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv"}
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".deflate", ".lzma")
DEAD_LETTER = "dead_letter"


class Row(typing.NamedTuple):
    """One input row: its file and 1-based line, its id (from `id_column`, or None) and its text(s)."""

    file: str
    line: int
    id: str | None
    text: str
    text_pair: str | None = None


def row_length(row):
    """Characters in a row: the length Beam's length-aware batching buckets rows by."""
    return len(row.text) + len(row.text_pair or "")


def format_of(path, file_format="auto"):
    """The reader a file needs: `file_format`, or with "auto" its suffix (a compression suffix aside)."""
    if file_format != "auto":
        return file_format
    stem = path
    for suffix in COMPRESSION_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return SUFFIX_FORMATS.get(os.path.splitext(stem)[1].lower(), "text")


def _rows(path, file_format, stream, header):
    if file_format == "text":
        return ((n, {"text": line} if isinstance(line, str) else line) for n, line in read_lines(path, "yield", stream))
    if file_format == "jsonl":
        return read_jsonl(path, "yield", stream)
    return {"csv": read_csv, "tsv": read_tsv}[file_format](path, header, "yield", stream)


def dead_letter(path, line, error):
    """A dead-letter record: the file, the line and why the row was not scored."""
    return {"file": path, "line": line, "error": str(error)}


class ReadRows(beam.DoFn):
    """The `Row`s of a matched file (`fileio.ReadableFile`); a bad row goes to the `dead_letter` output.

    Args:
        file_format: one of `FORMATS` ("text": one text per line).
        text_column, text_pair_column, id_column: the columns (JSON keys) of
            the text, the second text of a pair and the row id; for "text"
            files only the line is read.
        header: whether CSV/TSV files start with a header naming the columns
            (without one, columns are named by index: "0", "1", ...).
    """

    def __init__(self, file_format="auto", text_column="text", text_pair_column=None, id_column=None, header=True):
        self.file_format, self.header = file_format, header
        self.text_column, self.text_pair_column, self.id_column = text_column, text_pair_column, id_column
        self.rows = Metrics.counter(NAMESPACE, "rows")
        self.rejected = Metrics.counter(NAMESPACE, "rejected_rows")
        self.blank = Metrics.counter(NAMESPACE, "blank_lines")

    def process(self, readable):
        path = readable.metadata.path
        file_format = format_of(path, self.file_format)
        text_column = "text" if file_format == "text" else self.text_column
        pair_column = None if file_format == "text" else self.text_pair_column
        id_column = None if file_format == "text" else self.id_column
        with readable.open() as stream:
            one_a_line = file_format in ("text", "jsonl")
            lines = _LineCounter(stream) if one_a_line else stream
            rows = 0
            for line, row in _rows(path, file_format, lines, self.header):
                rows += 1
                self.rows.inc()
                if not isinstance(row, DataError):
                    if not self.header and file_format in ("csv", "tsv"):
                        row = {str(k): v for k, v in row.items()}
                    try:
                        text, pair = row_texts(row, text_column, pair_column)
                        row_id = None if id_column is None else _row_id(row, id_column)
                    except RowError as e:
                        row = DataError(f"{path}:{line}: {e}")
                if isinstance(row, DataError):
                    self.rejected.inc()
                    yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(path, line, row))
                else:
                    yield Row(path, line, row_id, text, pair)
            if one_a_line:  # the lines that were no row were blank
                self.blank.inc(lines.count - rows)


class _LineCounter:
    """A binary stream's `readline`, counting the lines it returns (blank ones included)."""

    def __init__(self, stream):
        self.stream, self.count = stream, 0

    def readline(self):
        line = self.stream.readline()
        self.count += bool(line)
        return line


def _row_id(row, column):
    if column not in row:
        raise RowError(f"missing id field {column!r}")
    return str(row[column])
