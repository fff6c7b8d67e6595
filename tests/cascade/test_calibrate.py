"""Threshold calibration: the sweep's rule equals the predictor's, costs and shares by hand, the tool end to end."""

import json
import os

import numpy as np
import pytest

from fastformers_tf.cascade import Sweep, answers, calibrate, pick, sweep, within_budget
from fastformers_tf.data import get_task
from fastformers_tf.data.batching import softmax
from fastformers_tf.runtime import load_predictor
from fastformers_tf.runtime.cascade import CascadePredictor
from tests.harness import run_tool


def probs_of(rows):
    return np.array(rows, np.float64)


def test_answers_follow_the_cascade_rule_stage_by_stage():
    fast = probs_of([[0.95, 0.05], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
    middle = probs_of([[0.5, 0.5], [0.8, 0.2], [0.45, 0.55], [0.2, 0.8]])
    slow = probs_of([[0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9]])
    probs, stage = answers([fast, middle, slow], [0.75, 0.7])
    # Row 0 is sure at the first stage (0.95); row 1 at the second (0.8); row 2 at neither (0.7, 0.55);
    # row 3 at the second (0.8). Margins: row 0 0.9, row 1 0.2 then 0.6, row 2 0.4 then 0.1, row 3 0.1 then 0.6.
    assert stage.tolist() == [0, 1, 2, 1]
    np.testing.assert_allclose(probs, [fast[0], middle[1], slow[2], middle[3]])
    _, by_margin = answers([fast, middle, slow], [0.5, 0.5], confidence="margin")
    assert by_margin.tolist() == [0, 1, 2, 1]
    assert answers([fast, slow], [0.0])[1].tolist() == [0, 0, 0, 0]
    assert answers([fast, slow], [1.01])[1].tolist() == [1, 1, 1, 1]


def test_the_sweep_scores_every_setting_and_the_pick_is_the_cheapest_within_budget():
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    # The fast stage is right where it is sure (>= 0.9) and wrong where it is not; the slow one is always right.
    fast = probs_of(
        [[0.95, 0.05], [0.1, 0.9], [0.6, 0.4], [0.92, 0.08], [0.45, 0.55], [0.3, 0.7], [0.99, 0.01], [0.8, 0.2]]
    )
    slow = np.eye(2)[labels] * 0.8 + 0.1

    def score(p):
        return 100 * float(np.mean(p.argmax(-1) == labels))

    result = sweep([fast, slow], score, costs_ms=[1.0, 10.0])
    assert result.thresholds.shape[1] == 1 and result.shares[:, 0].tolist() == [1.0] * len(result.metric)
    for thresholds, metric, shares, cost in zip(
        result.thresholds, result.metric, result.shares, result.cost_ms, strict=True
    ):
        probs, stage = answers([fast, slow], thresholds)
        assert metric == score(probs) and shares[1] == np.mean(stage == 1)
        assert cost == pytest.approx(1.0 + 10.0 * shares[1])
    k = pick(result, reference=100.0, max_drop=0.0)
    # Only the 4 rows below 0.9 must go on: 1 + 10 * 4/8 = 6 ms, accuracy 100.
    assert result.metric[k] == 100.0 and result.shares[k, 1] == 0.5 and result.cost_ms[k] == pytest.approx(6.0)
    loose = pick(result, reference=100.0, max_drop=30.0)  # two wrong rows (25 points) may stay at the fast stage
    assert result.metric[loose] == 75.0 and result.cost_ms[loose] == pytest.approx(1.0 + 10.0 * 2 / 8)


def test_the_stable_rule_skips_a_cheap_setting_that_a_higher_threshold_falls_out_of_budget_from():
    # Budget: 99 points. The metric zigzags as the threshold rises: 99.2 at 0.5 is a peak that 0.6 falls from.
    result = Sweep(
        thresholds=np.array([[0.0], [0.5], [0.6], [0.7], [0.8], [1.01]]),
        metric=np.array([90.0, 99.2, 98.8, 99.0, 99.6, 100.0]),
        shares=np.array([[1, s] for s in (0.0, 0.2, 0.3, 0.4, 0.5, 1.0)], np.float64),
        cost_ms=np.array([1.0, 3.0, 4.0, 5.0, 6.0, 11.0]),
    )
    assert within_budget(result, 100.0, 1.0, "cheapest").tolist() == [False, True, False, True, True, True]
    assert within_budget(result, 100.0, 1.0).tolist() == [False, False, False, True, True, True]
    assert pick(result, 100.0, 1.0, "cheapest") == 1 and pick(result, 100.0, 1.0) == 3
    # The last stage alone out of budget (the budget's reference is another model): no setting is stable.
    result.metric[-1] = 98.9
    assert pick(result, 100.0, 1.0) is None and pick(result, 100.0, 1.0, "cheapest") == 1
    # Two thresholds: a setting is stable only if every setting at least as high in both is within budget.
    two = Sweep(
        thresholds=np.array([[0.5, 0.5], [0.5, 0.9], [0.9, 0.5], [0.9, 0.9]]),
        metric=np.array([99.5, 98.0, 99.5, 99.5]),
        shares=np.ones((4, 3)),
        cost_ms=np.array([1.0, 2.0, 3.0, 4.0]),
    )
    assert within_budget(two, 100.0, 1.0).tolist() == [False, False, True, True]
    with pytest.raises(ValueError, match="Unknown rule 'lucky'"):
        pick(two, 100.0, 1.0, "lucky")


def write_cb(data_dir, texts):
    folder = data_dir / "superglue" / "CB"
    folder.mkdir(parents=True)
    labels = ["entailment", "contradiction", "neutral"]
    with open(folder / "val.jsonl", "w", encoding="utf-8") as f:
        for i, (a, b) in enumerate(texts):
            f.write(json.dumps({"premise": a, "hypothesis": b, "label": labels[i % 3], "idx": i}) + "\n")


PAIRS = [
    ("the team won the game", "a vote"),
    ("a dull film", "the soup"),
    ("bad onion soup", "good"),
    ("the movie was great and long", "a law"),
    ("cook the soup", "the bill won"),
    ("awful", "great film"),
    ("the game", "lost"),
    ("a good film won the vote", "bad"),
    ("the law", "onion"),
]


def test_calibrate_writes_a_cascade_that_serves_as_calibrated(tiny_export, tmp_path):
    write_cb(tmp_path / "data", PAIRS)
    stages = [f"{tiny_export.directory}:tflite/int8", f"{tiny_export.directory}:onnx/fp32"]
    out = tmp_path / "cascade"
    record = calibrate(stages, "cb", "val", str(tmp_path / "data"), max_drop=0.0, output=str(out), timed_examples=3)
    assert [s["backend"] for s in record["stages"]] == ["tflite", "onnx"]
    assert all(s["ms_per_query"] > 0 for s in record["stages"])
    picked = record["picked"]
    assert picked["metric"] >= record["stages"][-1]["metric"]  # max_drop=0
    assert os.path.isfile(out / "calibration.png")
    a, b = [p for p, _ in PAIRS], [h for _, h in PAIRS]
    with load_predictor(str(out)) as cascade:
        assert isinstance(cascade, CascadePredictor) and cascade.thresholds == picked["thresholds"]
        probs = softmax(cascade.logits(a, b))
    labels = np.arange(len(PAIRS)) % 3  # CB's label order: entailment, contradiction, neutral
    assert 100 * np.mean(probs.argmax(-1) == labels) == pytest.approx(picked["metric"], abs=1e-3)
    assert get_task("cb").labels == ("entailment", "contradiction", "neutral")


def test_the_cascade_tool_prints_the_pick_and_refuses_a_split_without_labels(tiny_export, tmp_path):
    write_cb(tmp_path / "data", PAIRS)
    stages = f"--stages={tiny_export.directory}:tflite/int8,{tiny_export.directory}:onnx/fp32"
    common = [stages, "--task=cb", f"--data_dir={tmp_path / 'data'}", "--timed_examples=2", "--threads=1"]
    result = run_tool("cascade.py", *common, "--split=val", f"--output={tmp_path / 'c'}")
    assert result.returncode == 0, result.stderr
    assert "for the last stage alone" in result.stdout and f"wrote {tmp_path / 'c'}" in result.stdout
    result = run_tool("cascade.py", *common, "--split=holdout")
    assert result.returncode != 0 and "recipe" in result.stderr.strip().splitlines()[-1]


def test_calibrate_scores_one_text_per_call_as_a_query_is_served(tiny_export, tmp_path, monkeypatch):
    # ONNX Runtime's dynamic INT8 gives a row other outputs in other batches: thresholds set on batched outputs
    # would not be those a served query meets, so each stage scores the split one text per call unless told.
    from fastformers_tf.data.task_data import TaskData

    write_cb(tmp_path / "data", PAIRS)
    calls, predict_probs = [], TaskData.predict_probs
    monkeypatch.setattr(
        TaskData,
        "predict_probs",
        lambda self, p, batch_size, **kw: calls.append(batch_size) or predict_probs(self, p, batch_size, **kw),
    )
    stages = [f"{tiny_export.directory}:onnx/int8", f"{tiny_export.directory}:onnx/fp32"]
    calibrate(stages, "cb", "val", str(tmp_path / "data"), costs_ms=[1.0, 2.0])
    calibrate(stages, "cb", "val", str(tmp_path / "data"), costs_ms=[1.0, 2.0], batch_size=8)
    assert calls == [1, 1, 8, 8]
