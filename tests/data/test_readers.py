"""File readers: rows with their line numbers, byte-order marks, and errors that name file:line."""

import pytest

from fastformers_tf.data import DataError
from fastformers_tf.data.readers import read_csv, read_jsonl, read_lines, read_tsv

UTF8_BOM = b"\xef\xbb\xbf"
MOJIBAKE_BOM = b"\xc3\xaf\xc2\xbb\xc2\xbf"  # "ï»¿", as glue/MRPC/msr_paraphrase_train.txt starts


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def test_read_lines_numbers_lines_and_passes_over_blank_ones(tmp_path):
    path = write(tmp_path, "a.txt", "first\r\n\n  \nsecond\nthird")
    assert list(read_lines(path)) == [(1, "first"), (4, "second"), (5, "third")]


def test_read_lines_names_the_line_that_is_not_utf8(tmp_path):
    path = write(tmp_path, "a.txt", b"ok\nbad \xff byte\n")
    with pytest.raises(DataError, match=f"{path}:2: not valid UTF-8"):
        list(read_lines(path))


def test_read_jsonl(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"a": 1}\n\n{"a": "two"}\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"a": "two"})]


@pytest.mark.parametrize(
    "bad_line, message",
    [('{"a": 2', "bad JSON"), ("[1, 2]", "expected a JSON object, got list")],
)
def test_read_jsonl_malformed_row_names_file_and_line(tmp_path, bad_line, message):
    path = write(tmp_path, "a.jsonl", '{"a": 1}\n' + bad_line + "\n")
    with pytest.raises(DataError, match=f"{path}:2: {message}"):
        list(read_jsonl(path))


@pytest.mark.parametrize("bom", [UTF8_BOM, MOJIBAKE_BOM], ids=["utf8", "mojibake"])
def test_byte_order_marks_are_dropped(tmp_path, bom):
    jsonl = write(tmp_path, "a.jsonl", bom + b'{"a": 1}\n')
    assert list(read_jsonl(jsonl)) == [(1, {"a": 1})]
    tsv = write(tmp_path, "a.tsv", bom + "Quality\t#1 String\n1\tcafé\n".encode())
    assert list(read_tsv(tsv)) == [(2, {"Quality": "1", "#1 String": "café"})]


def test_a_bom_only_counts_at_the_start_of_the_file(tmp_path):
    path = write(tmp_path, "a.txt", b"x\n" + MOJIBAKE_BOM + b"y\n")
    assert list(read_lines(path)) == [(1, "x"), (2, "\u00ef\u00bb\u00bfy")]


def test_read_tsv_has_no_quoting(tmp_path):
    path = write(tmp_path, "a.tsv", 'sentence\tlabel\n"a quote\t1\nit \'s "fine"\t0\n')
    assert [row for _, row in read_tsv(path)] == [
        {"sentence": '"a quote', "label": "1"},
        {"sentence": 'it \'s "fine"', "label": "0"},
    ]


def test_read_tsv_without_header_keys_by_column_index(tmp_path):
    path = write(tmp_path, "a.tsv", "a\t1\nb\t0\n")
    assert list(read_tsv(path, header=False)) == [(1, {0: "a", 1: "1"}), (2, {0: "b", 1: "0"})]


def test_read_tsv_wrong_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path, "a.tsv", "sentence\tlabel\ngood\t1\n\nno label here\n")
    with pytest.raises(DataError, match=f"{path}:4: expected 2 columns, got 1"):
        list(read_tsv(path))


def test_read_csv_quoted_fields_and_record_start_lines(tmp_path):
    path = write(tmp_path, "a.csv", 'text,label\n"a, b",x\n"two\nlines",y\nplain,z\n')
    assert list(read_csv(path)) == [
        (2, {"text": "a, b", "label": "x"}),
        (3, {"text": "two\nlines", "label": "y"}),
        (5, {"text": "plain", "label": "z"}),
    ]


def test_read_csv_bom_and_wrong_column_count(tmp_path):
    path = write(tmp_path, "a.csv", UTF8_BOM + b"text,label\nok,1\ntoo,many,fields\n")
    rows = read_csv(path)
    assert next(rows) == (2, {"text": "ok", "label": "1"})
    with pytest.raises(DataError, match=f"{path}:3: expected 2 columns, got 3"):
        next(rows)
