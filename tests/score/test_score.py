"""Batch scoring on Apache Beam: `tools/score.py` against the predictor, dead letters, the handler's checks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

beam = pytest.importorskip("apache_beam", reason="the beam extra is not installed")

from fastformers_tf.data.examples import DataError  # noqa: E402
from fastformers_tf.errors import ArgumentError  # noqa: E402
from fastformers_tf.runtime import load_predictor  # noqa: E402
from fastformers_tf.score.handler import ExportModelHandler  # noqa: E402
from fastformers_tf.score.pipeline import counters, score_files  # noqa: E402
from fastformers_tf.score.read import ReadRows, Row, format_of  # noqa: E402
from tests.harness import ROOT, run_tool  # noqa: E402

WORDS = "the a team won lost game soup was good bad movie great film fine".split()

# tools/score.py as a user runs it, but with TensorFlow, Keras, tf2onnx and torch unimportable.
NO_TENSORFLOW = """
import runpy, sys
for name in ("tensorflow", "tf_keras", "keras", "tf2onnx", "torch"):
    sys.modules[name] = None
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def sentences(n, seed):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) for _ in range(n)]


def write_inputs(folder):
    """A TSV with a header and a JSONL of pairs with ids, each with malformed rows; returns the expected rows."""
    folder.mkdir()
    good, bad = {}, {}
    lines = ["sentence\tlabel"]
    for i, text in enumerate(sentences(230, 0)):
        if i % 50 == 7:
            lines.append(f"{text}\t1\textra")  # a third column
            bad[("a.tsv", len(lines))] = "expected 2 columns, got 3"
        elif i % 50 == 21:
            lines.append(" \t0")
            bad[("a.tsv", len(lines))] = "empty text in field 'sentence'"
        else:
            lines.append(f"{text}\t{i % 2}")
            good[("a.tsv", len(lines))] = (text, None, None)
    (folder / "a.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = []
    for i, (a, b) in enumerate(zip(sentences(90, 1), sentences(90, 2), strict=True)):
        if i % 30 == 4:
            lines.append('{"premise": "' + a)  # cut short
            bad[("b.jsonl", len(lines))] = "bad JSON"
        elif i % 30 == 11:
            lines.append(json.dumps({"premise": a, "idx": i}))
            bad[("b.jsonl", len(lines))] = "missing field 'hypothesis'"
        else:
            lines.append(json.dumps({"premise": a, "hypothesis": b, "idx": i}))
            good[("b.jsonl", len(lines))] = (a, b, str(i))
    (folder / "b.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe not utf-8\n")
    bad[("b.jsonl", len(lines) + 1)] = "not valid UTF-8"
    return good, bad


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_score_tool_equals_the_predictor_and_dead_letters_every_bad_row(tiny_export, tmp_path):
    good, bad = write_inputs(tmp_path / "in")
    # One file has single texts, the other pairs: each is scored as its own format (--format=auto),
    # the TSV by its header's `sentence` column, the JSONL by `premise` + `hypothesis`.
    results = {}
    pair_columns = ["--text_column=premise", "--text_pair_column=hypothesis", "--id_column=idx"]
    for name, columns in (("a.tsv", ["--text_column=sentence"]), ("b.jsonl", pair_columns)):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                NO_TENSORFLOW,
                os.path.join(ROOT, "tools", "score.py"),
                f"--model={tiny_export.directory}",
                "--precision=fp32",
                f"--input={tmp_path / 'in' / name}",
                f"--output={tmp_path / 'out' / name}",
                "--max_batch_size=40",
                "--threads=1",
                *columns,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": ROOT},
        )
        assert result.returncode == 0, result.stderr
        results[name] = result.stdout
    assert "230 rows: 220 predicted, 10 rejected when read, 0 failed in inference" in results["a.tsv"]
    assert "91 rows: 84 predicted, 7 rejected when read, 0 failed in inference" in results["b.jsonl"]

    predictor = load_predictor(tiny_export.directory, "onnx", "fp32")
    labels = set()
    for name in ("a.tsv", "b.jsonl"):
        records = read_jsonl(tmp_path / "out" / f"{name}-{name}.jsonl")
        expected = sorted((line, texts) for (file, line), texts in good.items() if file == name)
        assert [r["line"] for r in records] == [line for line, _ in expected]  # every good row, in input order
        texts = [a for _, (a, _, _) in expected]
        pairs = None if name == "a.tsv" else [b for _, (_, b, _) in expected]
        probs = np.exp(predictor.logits(texts, pairs))
        probs /= probs.sum(-1, keepdims=True)
        assert [r["label"] for r in records] == [label for label, _ in predictor.predict(texts, pairs)]
        labels.update(r["label"] for r in records)
        served = np.array([[r["probabilities"][k] for k in ("x", "y", "z")] for r in records])
        np.testing.assert_allclose(served, probs, atol=1e-5)
        assert [r.get("id") for r in records] == [row_id for _, (_, _, row_id) in expected]
        dead = read_jsonl(tmp_path / "out" / f"{name}-dead_letter.jsonl")
        assert [(os.path.basename(d["file"]), d["line"]) for d in dead] == sorted(k for k in bad if k[0] == name)
        for record in dead:
            assert bad[name, record["line"]] in record["error"]
            assert record["error"].startswith(f"{record['file']}:{record['line']}: ")
    assert len(labels) > 1  # the labels compared are not all one


class Failing(ExportModelHandler):
    """Raises on any batch holding a text with "boom"."""

    def run_inference(self, batch, model, inference_args=None):
        if any("boom" in row.text for row in batch):
            raise RuntimeError("boom")
        return super().run_inference(batch, model, inference_args)


def test_a_batch_that_fails_in_inference_is_dead_lettered_row_by_row(tiny_export, tmp_path):
    (tmp_path / "in.txt").write_text("fine film\nboom\ngood soup\n\nbad movie\n", encoding="utf-8")
    handler = Failing(tiny_export.directory, precision="fp32", batch_size=1, max_batch_size=1, threads=1)
    pipeline = beam.Pipeline(runner="FnApiRunner")
    written, dead_path = score_files(pipeline, str(tmp_path / "*.txt"), str(tmp_path / "out"), handler)
    result = pipeline.run()
    result.wait_until_finish()
    assert [r["line"] for r in read_jsonl(tmp_path / "out-in.txt.jsonl")] == [1, 3, 5]
    assert read_jsonl(dead_path) == [
        {"file": str(tmp_path / "in.txt"), "line": 2, "error": "inference failed: RuntimeError('boom')"}
    ]
    counts = counters(result)  # ours, and RunInference's own under the handler's namespace
    assert {k: counts.get(k, 0) for k in ("rows", "rejected_rows", "predicted_rows", "failed_rows")} == {
        "rows": 4,
        "rejected_rows": 0,
        "predicted_rows": 3,
        "failed_rows": 1,
    }
    assert counts["num_inferences"] == 3 and counts["failed_batches_counter"] == 1


def test_rows_of_every_format(tmp_path):
    (tmp_path / "t.csv").write_text('text,id\n"a, quoted\ntext",7\n,8\nplain,9\n', encoding="utf-8")
    (tmp_path / "t.txt").write_text("one\n\ntwo\n", encoding="utf-8")
    with beam.Pipeline(runner="FnApiRunner") as p:
        files = p | beam.Create([str(tmp_path / "t.csv"), str(tmp_path / "t.txt")]) | beam.io.fileio.ReadMatches()
        rows = files | beam.ParDo(ReadRows(id_column="id")).with_outputs("dead_letter", main="rows")
        save = lambda row: (tmp_path / f"row-{os.path.basename(row.file)}-{row.line}").write_text(json.dumps(row))  # noqa: E731
        rows.rows | "SaveRows" >> beam.Map(save)
        rows.dead_letter | "SaveDead" >> beam.Map(lambda d: (tmp_path / "dead.json").write_text(json.dumps(d)))
    saved = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("row-*")}
    csv_path, txt_path = str(tmp_path / "t.csv"), str(tmp_path / "t.txt")
    assert saved == {
        "row-t.csv-2": list(Row(csv_path, 2, "7", "a, quoted\ntext")),  # a record spanning two lines
        "row-t.csv-5": list(Row(csv_path, 5, "9", "plain")),
        "row-t.txt-1": list(Row(txt_path, 1, None, "one")),  # text files: every line, no id column
        "row-t.txt-3": list(Row(txt_path, 3, None, "two")),
    }
    assert json.loads((tmp_path / "dead.json").read_text())["line"] == 4


def test_format_of_a_file():
    assert [format_of(p) for p in ("a.jsonl", "a.JSON", "b.csv.gz", "c.tsv", "d.txt", "e")] == [
        "jsonl",
        "jsonl",
        "csv",
        "tsv",
        "text",
        "text",
    ]
    assert format_of("a.csv", "tsv") == "tsv"


def test_the_handler_refuses_what_it_cannot_serve(tiny_export, tmp_path):
    with pytest.raises(ArgumentError, match="exports and cascades, not a keras model"):
        ExportModelHandler(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no such exported file"):
        ExportModelHandler(str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError, match="exceeds the .* physical cores"):
        ExportModelHandler(tiny_export.directory, model_copies=2, threads=os.cpu_count())
    with pytest.raises(ArgumentError, match="min_batch_size=9 exceeds max_batch_size=4"):
        ExportModelHandler(tiny_export.directory, min_batch_size=9, max_batch_size=4)


def test_score_tool_errors_are_one_line(tiny_export, tmp_path):
    def score(*args):
        return run_tool("score.py", f"--model={tiny_export.directory}", f"--output={tmp_path / 'out'}", *args)

    result = score(f"--input={tmp_path / 'nothing*.txt'}")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"error: --input={tmp_path / 'nothing*.txt'}: no file matches. (--debug shows the traceback)"
    ]
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.txt").write_text("a text\n")
    result = score(f"--input={tmp_path / '*' / 'same.txt'}")
    assert result.returncode == 1 and "whose predictions would share one output file" in result.stderr
    result = score(f"--input={tmp_path / 'x' / 'same.txt'}", f"--output={tmp_path / 'x' / 'same.txt' / 'out'}")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"error: --output={tmp_path / 'x' / 'same.txt' / 'out'}: {tmp_path / 'x' / 'same.txt'} is a file, not a "
        "folder. (--debug shows the traceback)"
    ]


def test_score_tool_counts_blank_lines_skips_its_own_outputs_and_fails_when_nothing_is_predicted(tiny_export, tmp_path):
    def score(*args):
        return run_tool("score.py", f"--model={tiny_export.directory}", "--threads=1", *args)

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("one text\n\n  \nanother text\n\n")
    counts = "2 rows: 2 predicted, 0 rejected when read, 0 failed in inference; 3 blank lines skipped"
    for _ in range(2):  # the rerun matches the first run's outputs too, and does not read them
        result = score(f"--input={folder / '*'}", f"--output={folder / 'scores'}")
        assert result.returncode == 0 and counts in result.stdout, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "scores-a.txt.jsonl", "scores-dead_letter.jsonl"]
    # Every row rejected (a pair column no row has): exit 1, one line.
    (tmp_path / "b.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    result = score(f"--input={tmp_path / 'b.jsonl'}", f"--output={tmp_path / 'out'}", "--text_pair_column=other")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"error: no row was predicted (of 2): see {tmp_path / 'out'}-dead_letter.jsonl (--debug shows the traceback)"
    ]


def test_readers_yield_bad_rows_and_go_on(tmp_path):
    from fastformers_tf.data.readers import read_tsv

    (tmp_path / "a.tsv").write_bytes(b"s\tl\nok\t1\nbad\n\xff\t0\nfine\t0\n")
    rows = list(read_tsv(str(tmp_path / "a.tsv"), errors="yield"))
    assert [(n, r if isinstance(r, dict) else type(r)) for n, r in rows] == [
        (2, {"s": "ok", "l": "1"}),
        (3, DataError),
        (4, DataError),
        (5, {"s": "fine", "l": "0"}),
    ]


def test_a_bad_header_makes_every_row_a_bad_row(tmp_path):
    from fastformers_tf.data.readers import read_csv

    (tmp_path / "a.csv").write_bytes(b"te\xffxt,label\nok,1\nfine,0\n")
    rows = list(read_csv(str(tmp_path / "a.csv"), errors="yield"))
    assert [n for n, _ in rows] == [1, 2, 3] and all(isinstance(r, DataError) for _, r in rows)
    assert "the header (line 1) could not be read" in str(rows[1][1])
