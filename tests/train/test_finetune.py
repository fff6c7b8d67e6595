"""Teacher fine-tuning end to end on a tiny model and tiny RTE-format files."""

import json
import os
import subprocess
import sys

from fastformers_tf.models import TextClassifier, load_model, save_model
from fastformers_tf.recipe import load_recipe
from fastformers_tf.train.finetune import finetune
from tests import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAIRS = [
    ("the team won the game", "the team won", "entailment"),
    ("the team lost the game", "the team won", "not_entailment"),
    ("the soup was good", "the soup was good", "entailment"),
    ("the movie was bad", "the movie was great", "not_entailment"),
]


def write_rte(data_dir):
    folder = data_dir / "superglue" / "RTE"
    folder.mkdir(parents=True)
    for split, repeats in (("train", 6), ("val", 2), ("test", 1)):
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for i, (premise, hypothesis, label) in enumerate(PAIRS * repeats):
                row = {"premise": premise, "hypothesis": hypothesis, "idx": i}
                if split != "test":
                    row["label"] = label
                f.write(json.dumps(row) + "\n")


def test_finetune_writes_recipe_best_model_logs_and_metrics(tmp_path):
    write_rte(tmp_path / "data")
    save_model(tiny.encoder(), str(tmp_path / "encoder"), tokenizer=tiny.tokenizer(str(tmp_path)))
    out = tmp_path / "run"
    recipe = load_recipe(
        "rte",
        params_override=[
            f"model={tmp_path / 'encoder'}",
            f"data_dir={tmp_path / 'data'}",
            f"output_dir={out}",
            f"cache_dir={tmp_path / 'cache'}",
            "finetune.epochs=2",
            "finetune.batch_size=4",
            "finetune.max_length=16",
            "finetune.learning_rate=1e-3",
        ],
    )
    summary = finetune(recipe, verbose=0)
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    assert summary["train_examples"] == 24 and summary["eval_examples"] == 8
    assert 0 <= summary["best"]["accuracy"] <= 1
    assert sorted(os.listdir(out)) == ["best", "logs", "metrics.json", "recipe.yaml"]
    assert load_recipe(config_file=str(out / "recipe.yaml")) == recipe
    best = load_model(str(out / "best"))
    assert isinstance(best, TextClassifier) and best.labels == ["entailment", "not_entailment"]
    assert os.listdir(out / "logs")  # TensorBoard event files

    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "evaluate.py"), f"--model={out / 'best'}", "--task=rte",
         "--split=test", f"--data_dir={tmp_path / 'data'}", f"--predictions_dir={tmp_path / 'submission'}"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "submission" / "RTE.jsonl").read_text().splitlines()]
    assert [r["idx"] for r in records] == [0, 1, 2, 3]
    assert {r["label"] for r in records} <= {"entailment", "not_entailment"}
