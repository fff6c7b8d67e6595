"""Cascade folders: written from two exports, opened by `load_predictor`, refused when changed; served by the tools."""

import json
import os
import shutil

import httpx
import numpy as np
import pytest

from fastformers_tf import artifacts
from fastformers_tf.artifacts import EXPORT_KIND, ArtifactError
from fastformers_tf.data import make_generic_task
from fastformers_tf.data.batching import softmax
from fastformers_tf.data.task_data import TaskData
from fastformers_tf.errors import ArgumentError
from fastformers_tf.export.cascade import read_cascade, write_cascade
from fastformers_tf.runtime import load_predictor
from fastformers_tf.runtime.cascade import CascadePredictor, max_prob
from tests.harness import assert_one_line_error, run_tool
from tests.serve.test_server import metric, start_server, stop

TEXTS = ["the team won the game", "a dull film", "the soup was good", "bad", "the movie was great and long", "onion"]


@pytest.fixture(scope="module")
def cascade(tiny_export, tmp_path_factory):
    """A cascade of the tiny export's TFLite INT8 file and its ONNX fp32 file, about half the texts moving on."""
    fast = load_predictor(tiny_export.directory, "tflite", "int8")
    threshold = float(np.median(max_prob(softmax(fast.logits(TEXTS)))))
    folder = str(tmp_path_factory.mktemp("cascade") / "cascade")
    stages = [(tiny_export.directory, "tflite", "int8"), (tiny_export.directory, "onnx", "fp32")]
    write_cascade(folder, stages, [threshold], calibrated_on="test")
    return folder, threshold


def expected_logits(tiny_export, threshold, texts, pairs=None):
    fast = load_predictor(tiny_export.directory, "tflite", "int8").logits(texts, pairs)
    slow = load_predictor(tiny_export.directory, "onnx", "fp32").logits(texts, pairs)
    unsure = max_prob(softmax(fast)) < threshold
    return np.where(unsure[:, None], slow, fast), unsure


def test_a_cascade_folder_opens_as_the_cascade_of_its_stages(cascade, tiny_export):
    folder, threshold = cascade
    info = json.load(open(os.path.join(folder, "export.json")))
    assert info["serve"] == {"backend": "cascade"} and info["labels"] == ["x", "y", "z"]
    record = info["cascade"]
    assert [(s["backend"], s["precision"], s["folder"]) for s in record["stages"]] == [
        ("tflite", "int8", "stages/0"),
        ("onnx", "fp32", "stages/1"),
    ]
    assert record["thresholds"] == [threshold] and record["calibrated_on"] == "test"
    assert sorted(os.listdir(os.path.join(folder, "stages", "0"))) == sorted(
        ["export.json", "manifest.json", "model.int8.tflite", "config.json", *tokenizer_files(folder, 0)]
    )
    with load_predictor(folder, threads=1) as predictor:
        assert isinstance(predictor, CascadePredictor)
        logits, stage = predictor.answer(TEXTS)
    expected, unsure = expected_logits(tiny_export, threshold, TEXTS)
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    assert stage.tolist() == unsure.astype(int).tolist() and 0 < unsure.sum() < len(TEXTS)
    with pytest.raises(ArgumentError, match="is a cascade folder: its stages name their own backend"):
        load_predictor(folder, backend="onnx")


def test_a_cascade_folder_on_workers_answers_as_the_cascade_in_one_process(cascade, tiny_export):
    """Each of 2 workers runs both stages; the calls are shared among them, and each comes back in its place."""
    from fastformers_tf.runtime.cascade import CascadeWorkers

    folder, threshold = cascade
    texts = [t * (1 + i % 3) for i, t in enumerate(TEXTS * 2)]  # mixed lengths
    expected, unsure = expected_logits(tiny_export, threshold, texts)
    with load_predictor(folder, instances=2, threads=1) as workers:
        assert isinstance(workers, CascadeWorkers) and workers.instances == 2 and workers.threads == 1
        logits, stage = workers.answer(texts)
        np.testing.assert_allclose(logits, expected, atol=1e-5)
        assert stage.tolist() == unsure.astype(int).tolist() and workers.answered == [
            int((~unsure).sum()),
            int(unsure.sum()),
        ]
        # One call per text, as the benchmark times batch 1: the same answers, in the order of the calls.
        per_stage = [t.tokenize(texts) for t in workers.tokenizers]
        calls = [[f.subset(np.array([i])) for f in per_stage] for i in range(len(texts))]
        answers = workers.answer_many(calls)
        np.testing.assert_allclose(np.concatenate([a[0] for a in answers]), expected, atol=1e-5)
        assert [int(a[1][0]) for a in answers] == unsure.astype(int).tolist()
        assert workers.predict(texts[:1]) == load_predictor(folder, threads=1).predict(texts[:1])
        with pytest.raises(TypeError, match="tokenize texts their own way"):
            workers.logits_of(per_stage[0])
    with pytest.raises(ArgumentError, match="on a GPU runs as one instance"):
        load_predictor(folder, instances=2, device="gpu")


def tokenizer_files(folder, stage):
    return [
        n
        for n in os.listdir(os.path.join(folder, "stages", str(stage)))
        if n.startswith(("tokenizer", "vocab", "spec"))
    ]


def test_a_changed_stage_file_or_disagreeing_labels_are_refused(cascade, tiny_export, tmp_path):
    folder, threshold = cascade
    changed = str(tmp_path / "changed")
    shutil.copytree(folder, changed)
    with open(os.path.join(changed, "stages", "1", "model.opt.onnx"), "ab") as f:
        f.write(b"\0")
    with pytest.raises(ArtifactError, match=r"stages/1"):
        read_cascade(changed)
    result = run_tool("predict.py", f"--model={changed}", "--text=a film")
    assert_one_line_error(result, "stages/1/model.opt.onnx")

    other = str(tmp_path / "other_labels")
    shutil.copytree(tiny_export.directory, other)
    info = json.load(open(os.path.join(other, "export.json")))
    info["labels"] = ["a", "b", "c"]
    artifacts.write_json(os.path.join(other, "export.json"), info)
    artifacts.write_manifest(other, EXPORT_KIND)
    with pytest.raises(ArgumentError, match="must classify one label set"):
        write_cascade(
            str(tmp_path / "mixed"), [(tiny_export.directory, "onnx", "int8"), (other, "onnx", "fp32")], [0.5]
        )
    assert not (tmp_path / "mixed").exists()


def test_predict_evaluate_and_beam_score_serve_a_cascade(cascade, tiny_export, tmp_path):
    folder, threshold = cascade
    expected, _ = expected_logits(tiny_export, threshold, TEXTS)
    labels = [["x", "y", "z"][k] for k in expected.argmax(-1)]
    result = run_tool("predict.py", f"--model={folder}", *[f"--text={t}" for t in TEXTS], "--threads=1")
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.strip().splitlines()] == labels

    # Evaluation reads the split with the first stage's tokenizer, then gives the cascade the texts.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "val.tsv").write_text(
        "sentence\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in zip(TEXTS, "xyzxyz", strict=True))
    )
    task = make_generic_task("xyz", {"val": "val.tsv"}, "sentence", "label", labels=("x", "y", "z"), file_format="tsv")
    with load_predictor(folder, threads=1) as predictor:
        data = TaskData.read(task, "val", str(tmp_path / "data"), predictor.tokenizer, predictor.max_length)
        metrics, probs = data.evaluate(predictor, batch_size=4, progress=False)
    np.testing.assert_allclose(probs, softmax(expected), atol=1e-5)
    assert metrics["accuracy"] == np.mean(expected.argmax(-1) == np.array([0, 1, 2, 0, 1, 2]))

    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "out" / "scores"
    result = run_tool(
        "score.py", f"--model={folder}", f"--input={tmp_path / 'in.txt'}", f"--output={out}", "--threads=1"
    )
    assert result.returncode == 0, result.stderr
    (written,) = [p for p in os.listdir(tmp_path / "out") if p.startswith("scores-") and "dead_letter" not in p]
    rows = [json.loads(line) for line in open(tmp_path / "out" / written)]
    assert [r["label"] for r in rows] == labels


def test_the_server_serves_a_cascade_and_counts_answers_per_stage(cascade, tiny_export):
    folder, threshold = cascade
    process, url = start_server(folder, "--max_wait_ms=1")
    try:
        response = httpx.post(f"{url}/predict", json={"texts": TEXTS})
        assert response.status_code == 200, response.text
        expected, unsure = expected_logits(tiny_export, threshold, TEXTS)
        assert [a["label"] for a in response.json()["predictions"]] == [["x", "y", "z"][k] for k in expected.argmax(-1)]
        assert metric(url, 'fastformers_cascade_answers_total{stage="0"}') == (~unsure).sum()
        assert metric(url, 'fastformers_cascade_answers_total{stage="1"}') == unsure.sum()
    finally:
        stop(process)
