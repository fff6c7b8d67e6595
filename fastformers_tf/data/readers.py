"""Low-level readers for JSONL, TSV, CSV and line files, as they are distributed.

Every reader yields `(line_number, row)` with 1-based line numbers of the file,
so the task readers can name the offending line in a `DataError`. Files are
UTF-8; a byte-order mark on the first line is dropped, both the real one and
the mojibake "ï»¿" (a BOM decoded as Latin-1 and re-encoded as UTF-8) that the
MSR paraphrase file starts with. Blank lines are not rows and are passed over;
any other line that cannot be parsed raises `DataError`.
"""

import csv
import json

from fastformers_tf.data.examples import data_error

# A UTF-8 BOM, and the same three bytes read as Latin-1 and written back as UTF-8.
BOMS = ("\ufeff", "\u00ef\u00bb\u00bf")


def _strip_bom(text):
    for bom in BOMS:
        if text.startswith(bom):
            return text[len(bom) :]
    return text


def read_lines(path):
    """Yields `(line_number, line)` for every non-blank line, without its line ending.

    Args:
        path: a UTF-8 text file.

    Example:
        >>> for line_number, line in read_lines("extra/TREC/train.txt"): ...
    """
    # Decoding line by line (not through a text-mode file) lets an encoding error name its line.
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise data_error(path, number, f"not valid UTF-8 ({e.reason} at byte {e.start})") from None
            line = line.rstrip("\r\n")
            if number == 1:
                line = _strip_bom(line)
            if line.strip():
                yield number, line


def read_jsonl(path):
    """Yields `(line_number, dict)`, one JSON object per line.

    Example:
        >>> rows = [row for _, row in read_jsonl("superglue/RTE/val.jsonl")]
    """
    for number, line in read_lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise data_error(path, number, f"bad JSON: {e.msg} at column {e.colno}") from None
        if not isinstance(row, dict):
            raise data_error(path, number, f"expected a JSON object, got {type(row).__name__}")
        yield number, row


def _by_header(path, rows, header):
    """Turns `(line_number, fields)` into `(line_number, dict)` keyed by the header (or column index)."""
    names = None
    for number, fields in rows:
        if names is None:
            names = [name.strip() for name in fields] if header else list(range(len(fields)))
            if header:
                continue
        if len(fields) != len(names):
            raise data_error(path, number, f"expected {len(names)} columns, got {len(fields)}")
        yield number, dict(zip(names, fields, strict=True))


def read_tsv(path, header=True):
    """Yields `(line_number, dict)` for each row of a tab-separated file.

    Fields are split on tabs only, with no quoting (GLUE's files use quotes as
    ordinary characters).

    Args:
        path: the file.
        header: whether the first line names the columns; without one the
            dicts are keyed by column index and the first line sets the width.

    Example:
        >>> next(read_tsv("glue/SST-2/dev.tsv"))
        (2, {'sentence': 'the expressive power of the camera ', 'label': '1'})
    """
    return _by_header(path, ((n, line.split("\t")) for n, line in read_lines(path)), header)


def read_csv(path, header=True):
    """Yields `(line_number, dict)` for each record of a comma-separated file (RFC 4180 quoting).

    The line number is the line a record starts on (a quoted field may span lines).
    """

    def records():
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            start = 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as e:
                    raise data_error(path, start, f"bad CSV: {e}") from None
                if start == 1 and fields:
                    fields[0] = _strip_bom(fields[0])
                if any(field.strip() for field in fields):
                    yield start, fields
                start = reader.line_num + 1

    return _by_header(path, records(), header)
