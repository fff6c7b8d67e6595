"""Low-level readers for JSONL, TSV, CSV and line files, as they are distributed.

Every reader yields `(line_number, row)` with 1-based line numbers of the file,
so the task readers can name the offending line in a `DataError`. Files are
UTF-8; a byte-order mark on the first line is dropped, both the real one and
the mojibake "ï»¿" (a BOM decoded as Latin-1 and re-encoded as UTF-8) that the
MSR paraphrase file starts with. Blank lines are not rows and are passed over;
any other line that cannot be parsed raises `DataError`, or, with
`errors="yield"`, is yielded as `(line_number, DataError)` and reading goes on
(batch scoring sends such rows to a dead-letter output instead of stopping).

Each reader takes a path, or a path and an open binary `stream` of it (a
Beam `ReadableFile`, a remote file): the path then only names the file in
errors.
"""

import contextlib
import csv
import io
import json

from fastformers_tf.data.examples import DataError, data_error

# A UTF-8 BOM, and the same three bytes read as Latin-1 and written back as UTF-8.
BOMS = ("\ufeff", "\u00ef\u00bb\u00bf")


def _strip_bom(text):
    for bom in BOMS:
        if text.startswith(bom):
            return text[len(bom) :]
    return text


ERRORS = ("raise", "yield")


def _bad(error, errors):
    """`error` (a `DataError`) raised, or returned to be yielded in its row's place."""
    if errors not in ERRORS:
        raise ValueError(f"errors={errors!r}; expected one of {ERRORS}.")
    if errors == "raise":
        raise error
    return error


@contextlib.contextmanager
def _binary(path, stream):
    if stream is not None:
        yield stream
    else:
        with open(path, "rb") as f:
            yield f


def read_lines(path, errors="raise", stream=None):
    """Yields `(line_number, line)` for every non-blank line, without its line ending.

    Args:
        path: a UTF-8 text file.
        errors: "raise" a `DataError` at a bad line, or "yield" it as the row.
        stream: the file opened in binary mode (default: open `path`).

    Example:
        >>> for line_number, line in read_lines("extra/TREC/train.txt"): ...
    """
    # Decoding line by line (not through a text-mode file) lets an encoding error name its line.
    with _binary(path, stream) as f:
        for number, raw in enumerate(iter(f.readline, b""), 1):  # readline: Beam's compressed files do not iterate
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                error = data_error(path, number, f"not valid UTF-8 ({e.reason} at byte {e.start})")
                yield number, _bad(error, errors)
                continue
            line = line.rstrip("\r\n")
            if number == 1:
                line = _strip_bom(line)
            if line.strip():
                yield number, line


def read_jsonl(path, errors="raise", stream=None):
    """Yields `(line_number, dict)`, one JSON object per line (`errors`, `stream`: as `read_lines`).

    Example:
        >>> rows = [row for _, row in read_jsonl("superglue/RTE/val.jsonl")]
    """
    for number, line in read_lines(path, errors, stream):
        if isinstance(line, DataError):
            yield number, line
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield number, _bad(data_error(path, number, f"bad JSON: {e.msg} at column {e.colno}"), errors)
            continue
        if not isinstance(row, dict):
            row = _bad(data_error(path, number, f"expected a JSON object, got {type(row).__name__}"), errors)
        yield number, row


def _by_header(path, rows, header, errors):
    """Turns `(line_number, fields)` into `(line_number, dict)` keyed by the header (or column index)."""
    names, bad_header = None, None
    for number, fields in rows:
        if isinstance(fields, DataError):
            if header and names is None and bad_header is None:
                bad_header = number  # the first line names the columns: without it no row can be read
            yield number, fields
            continue
        if bad_header is not None:
            yield number, _bad(data_error(path, number, f"the header (line {bad_header}) could not be read"), errors)
            continue
        if names is None:
            names = [name.strip() for name in fields] if header else list(range(len(fields)))
            if header:
                continue
        if len(fields) != len(names):
            yield number, _bad(data_error(path, number, f"expected {len(names)} columns, got {len(fields)}"), errors)
            continue
        yield number, dict(zip(names, fields, strict=True))


def read_tsv(path, header=True, errors="raise", stream=None):
    """Yields `(line_number, dict)` for each row of a tab-separated file.

    Fields are split on tabs only, with no quoting (GLUE's files use quotes as
    ordinary characters).

    Args:
        path: the file.
        header: whether the first line names the columns; without one the
            dicts are keyed by column index and the first line sets the width.
        errors, stream: as `read_lines`.

    Example:
        >>> next(read_tsv("glue/SST-2/dev.tsv"))
        (2, {'sentence': 'the expressive power of the camera ', 'label': '1'})
    """
    lines = read_lines(path, errors, stream)
    return _by_header(
        path, ((n, line if isinstance(line, DataError) else line.split("\t")) for n, line in lines), header, errors
    )


def _undecodable(fields):
    """Whether a field holds bytes that were not UTF-8 (decoded as lone surrogates)."""
    return any(any("\udc80" <= c <= "\udcff" for c in field) for field in fields)


def read_csv(path, header=True, errors="raise", stream=None):
    """Yields `(line_number, dict)` for each record of a comma-separated file (RFC 4180 quoting).

    The line number is the line a record starts on (a quoted field may span
    lines). `errors`, `stream`: as `read_lines`.
    """

    def records():
        with _binary(path, stream) as f:
            if not isinstance(f, io.IOBase):  # a Beam compressed file, which io.TextIOWrapper cannot wrap
                f = io.BytesIO(f.read())
            # Undecodable bytes become lone surrogates, so one bad record does not end the file.
            text = io.TextIOWrapper(f, encoding="utf-8", errors="surrogateescape", newline="")
            reader = csv.reader(text)
            start = 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    yield start, _bad(data_error(path, start, f"bad CSV: {e}"), errors)
                    start = reader.line_num + 1
                    continue
                if _undecodable(fields):
                    fields = _bad(data_error(path, start, "bad CSV: not valid UTF-8"), errors)
                elif start == 1 and fields:
                    fields[0] = _strip_bom(fields[0])
                if isinstance(fields, DataError) or any(field.strip() for field in fields):
                    yield start, fields
                start = reader.line_num + 1

    return _by_header(path, records(), header, errors)
