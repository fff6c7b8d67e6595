"""Teacher fine-tuning end to end on a tiny model and tiny RTE-format files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastformers_tf.data import get_task
from fastformers_tf.models import TextClassifier, load_model, load_tokenizer
from fastformers_tf.recipe import load_recipe
from fastformers_tf.runtime import KerasPredictor
from fastformers_tf.train.finetune import finetune
from fastformers_tf.train.tasks import TaskData
from tests.harness import PAIRS, ROOT, tiny_run_overrides, write_rte


def test_finetune_writes_recipe_best_model_logs_and_metrics(tmp_path):
    write_rte(tmp_path / "data")
    out = tmp_path / "run"
    recipe = load_recipe(
        "rte",
        params_override=[
            *tiny_run_overrides(tmp_path),
            "finetune.epochs=2",
            "finetune.batch_size=4",
            "finetune.max_length=16",
            "finetune.learning_rate=1e-3",
        ],
    )
    summary = finetune(recipe, verbose=0)
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    assert summary["train_examples"] == 24 and summary["eval_examples"] == 8
    accuracies = [e["accuracy"] for e in summary["epochs"]]
    assert summary["best"] == {"accuracy": max(accuracies)}
    assert summary["best_epoch"] == accuracies.index(max(accuracies)) + 1  # the first epoch to reach it
    assert sorted(os.listdir(out)) == ["best", "logs", "metrics.json", "recipe.yaml"]
    assert json.loads((out / "metrics.json").read_text()) == summary
    assert load_recipe(config_file=str(out / "recipe.yaml")) == recipe
    best = load_model(str(out / "best"))
    assert isinstance(best, TextClassifier) and best.labels == ["entailment", "not_entailment"]
    # The saved best model, run on the val pairs, scores what finetune reported (accuracy recomputed here).
    premises, hypotheses, labels = zip(*(PAIRS * 2), strict=True)
    logits = KerasPredictor(best, load_tokenizer(str(out / "best")), max_length=16).logits(premises, hypotheses)
    assert np.mean([best.labels[k] for k in logits.argmax(-1)] == np.array(labels)) == summary["best"]["accuracy"]
    assert os.listdir(out / "logs")  # TensorBoard event files

    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "evaluate.py"),
            f"--model={out / 'best'}",
            "--task=rte",
            "--split=test",
            f"--data_dir={tmp_path / 'data'}",
            f"--predictions_dir={tmp_path / 'submission'}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "submission" / "RTE.jsonl").read_text().splitlines()]
    assert [r["idx"] for r in records] == [0, 1, 2, 3]
    assert {r["label"] for r in records} <= {"entailment", "not_entailment"}


def write_sst2(data_dir, train=128, dev=20, max_filler=3, seed=0):
    """A separable SST-2-format task: label 1 iff the sentence holds "good" (else "bad"), among random filler."""
    rng = np.random.default_rng(seed)
    filler = "the a movie film team won lost game vote bill law cook soup onion".split()
    folder = data_dir / "glue" / "SST-2"
    folder.mkdir(parents=True)
    for split, n in (("train", train), ("dev", dev), ("glue_dev", dev)):
        rows = ["sentence\tlabel"]
        for i in range(n):
            words = list(rng.choice(filler, size=rng.integers(1, max_filler + 1)))
            words.insert(int(rng.integers(0, len(words) + 1)), "good" if i % 2 else "bad")
            rows.append(f"{' '.join(words)}\t{i % 2}")
        (folder / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_finetune_learns_a_separable_task_and_best_reproduces_its_metric(tmp_path):
    write_sst2(tmp_path / "data")
    out = tmp_path / "run"
    recipe = load_recipe(
        "sst2",
        params_override=[
            *tiny_run_overrides(tmp_path),
            "finetune.epochs=5",
            "finetune.batch_size=8",
            "finetune.max_length=16",
            "finetune.learning_rate=3e-3",
            "finetune.dropout=0.0",
            "finetune.pooling=mean",
            "finetune.max_train_examples=0",
            "finetune.eval_split=glue_dev",
            "holdout.examples=0",
        ],
    )
    summary = finetune(recipe, verbose=0)
    assert summary["train_examples"] == 128 and summary["eval_examples"] == 20
    assert summary["best"]["accuracy"] >= 0.9  # chance is 0.5 on this balanced set
    assert summary["epochs"][-1]["loss"] < 0.2 * summary["epochs"][0]["loss"]
    best = load_model(str(out / "best"))
    evals = TaskData.read(get_task("sst2"), "glue_dev", str(tmp_path / "data"), load_tokenizer(str(out / "best")), 16)
    metrics, _ = evals.evaluate(best, batch_size=7, progress=False)
    assert metrics == pytest.approx(summary["best"], abs=1e-6)
