"""Transfer sources: seeded augmentation, text and JSONL files, and the splits a student may not learn from."""

import pytest

from fastformers_tf.data import get_task
from fastformers_tf.data.examples import DataError
from fastformers_tf.distill.transfer import parse, read_text_file, sources
from fastformers_tf.errors import ArgumentError
from tests.harness import write_rte


def test_text_and_jsonl_files(tmp_path):
    lines = tmp_path / "more.txt"
    lines.write_text("a great film\n\n  \nbad soup\n", encoding="utf-8")
    assert [e.text_a for e in read_text_file(str(lines))] == ["a great film", "bad soup"]
    rows = tmp_path / "pairs.jsonl"
    rows.write_text('{"text_a": "x won", "text_b": "x lost"}\n{"text": "alone"}\n', encoding="utf-8")
    assert [(e.text_a, e.text_b) for e in read_text_file(str(rows))] == [("x won", "x lost"), ("alone", None)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"sentence": "no text field"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: expected a non-empty 'text' or 'text_a' field"):
        read_text_file(str(bad))
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        read_text_file(str(tmp_path / "missing.txt"))


@pytest.mark.parametrize(
    "spec", ["nope:1", "split:", "augment:0", "augment:x", "augment:2:mlm", "pairs:0", "pairs:2:drop"]
)
def test_bad_specs_name_the_flag(spec):
    with pytest.raises(ArgumentError, match="distill.transfer"):
        parse(spec)


def test_sources_refuse_the_eval_split_and_single_texts_for_a_pair_task(tmp_path):
    write_rte(tmp_path / "data")
    task = get_task("rte")
    train_path = str(tmp_path / "data" / "superglue" / "RTE" / "train.jsonl")
    train = ("train", task.read(train_path, "train"), train_path, "train")
    found = sources(task, train, ["split:test", "augment:1", "pairs:2"], "val", str(tmp_path / "data"), seed=0)
    assert [(s.name, len(s.examples), s.labeled) for s in found] == [
        ("train", 24, True),
        ("split:test", 4, False),
        ("augment:1", 24, False),
        ("pairs:2", 43, False),  # not 48: the file repeats its pairs, and a copy equal to its example is dropped
    ]
    with pytest.raises(ArgumentError, match="augment:1:neighbors needs the teacher's embedding matrix"):
        sources(task, train, ["augment:1:neighbors"], "val", str(tmp_path / "data"), seed=0)
    with pytest.raises(ArgumentError, match="split:val is the evaluation split"):
        sources(task, train, ["split:val"], "val", str(tmp_path / "data"), seed=0)
    (tmp_path / "texts.txt").write_text("one text\n", encoding="utf-8")
    with pytest.raises(DataError, match="classifies text pairs"):
        sources(task, train, [f"file:{tmp_path / 'texts.txt'}"], "val", str(tmp_path / "data"), seed=0)
