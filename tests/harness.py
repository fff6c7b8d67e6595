"""What many tests share: the repository root, running a tool as a user does, tiny RTE files and run overrides,
one-line error checks, and a few texts. Importing it loads no TensorFlow."""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = [
    "the movie was great",
    "bad",
    "the team won the game the team lost the game",
    "soup",
    "a good film",
    "vote",
    "the bill law vote won",
    "cook the onion soup",
]
PAIRS = [
    ("the team won the game", "the team won", "entailment"),
    ("the team lost the game", "the team won", "not_entailment"),
    ("the soup was good", "the soup was good", "entailment"),
    ("the movie was bad", "the movie was great", "not_entailment"),
]


def run_tool(name, *args, cwd=None, env=None):
    """Runs tools/<name> as a user does; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT, **(env or {})},
        cwd=cwd,
        timeout=600,
    )


def assert_one_line_error(result, pattern, code=1):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and lines, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr  # nothing else: no usage text, no TensorFlow start-up lines
    assert re.search(pattern, lines[0]), lines[0]


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


def tiny_run_overrides(tmp_path):
    """Saves the tiny encoder under tmp_path; the recipe overrides of a run on it, writing tmp_path/run."""
    from fastformers_tf.models import save_model  # TensorFlow: only for the tests that train
    from tests import tiny

    save_model(tiny.encoder(), str(tmp_path / "encoder"), tokenizer=tiny.tokenizer(str(tmp_path)))
    return [
        *tiny.WHOLE_SPLITS,
        f"model={tmp_path / 'encoder'}",
        f"data_dir={tmp_path / 'data'}",
        f"output_dir={tmp_path / 'run'}",
        f"cache_dir={tmp_path / 'cache'}",
    ]
