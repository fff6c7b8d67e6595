"""The hold-out in the training stages: no held-out example reaches a training batch; resumable runs; seeds."""

import json
import os
import re

import pytest

from fastformers_tf.backend import keras
from fastformers_tf.data import get_task, task_data
from fastformers_tf.distill.run import distill
from fastformers_tf.models import load_tokenizer, save_model
from fastformers_tf.recipe import load_recipe
from fastformers_tf.train.finetune import finetune
from tests import tiny
from tests.harness import tiny_run_overrides

WORDS = "the a movie film great good bad awful team won lost game vote bill law cook soup onion".split()


def write_distinct_rte(data_dir, train=30, val=6):
    """RTE files whose pairs are all different (so a held-out pair has no copy left in train)."""
    folder = data_dir / "superglue" / "RTE"
    folder.mkdir(parents=True)
    for split, n in (("train", train), ("val", val), ("test", 4)):
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for i in range(n):
                premise = f"{WORDS[i % 18]} {WORDS[(i // 18 + 3) % 18]} {WORDS[(i * 7) % 18]} {split}"
                row = {"premise": premise, "hypothesis": f"{WORDS[(i * 5) % 18]} {i}", "idx": i}
                if split != "test":
                    row["label"] = "entailment" if i % 3 else "not_entailment"
                f.write(json.dumps(row) + "\n")


@pytest.fixture
def batches_read(monkeypatch):
    """Records `(text_a, text_b)` of every example a training batch is built from."""
    seen = []
    batch_inputs = task_data.TaskData.batch_inputs

    def recording(self, model, indices):
        seen.extend((self.examples[i].text_a, self.examples[i].text_b) for i in indices)
        return batch_inputs(self, model, indices)

    monkeypatch.setattr(task_data.TaskData, "batch_inputs", recording)
    return seen


def holdout_texts(tmp_path, recipe):
    data = task_data.TaskData.read(
        get_task("rte"),
        "holdout",
        str(tmp_path / "data"),
        tiny.tokenizer(str(tmp_path)),
        16,
        holdout=recipe.holdout_spec(),
    )
    return {(e.text_a, e.text_b) for e in data.examples}


HOLDOUT = [
    "holdout.examples=6",
    "holdout.seed=1",
    "finetune.eval_split=holdout",
    "distill.eval_split=holdout",
    "finetune.evals_per_epoch=1",
]


def test_no_held_out_pair_reaches_a_finetuning_or_distillation_batch(tmp_path, batches_read):
    write_distinct_rte(tmp_path / "data")
    ft = load_recipe(
        "rte",
        params_override=[
            *tiny_run_overrides(tmp_path),
            *HOLDOUT,
            "finetune.epochs=1",
            "finetune.batch_size=4",
            "finetune.max_length=16",
        ],
    )
    held = holdout_texts(tmp_path, ft)
    assert len(held) == 6
    summary = finetune(ft, verbose=0)
    assert summary["eval_split"] == "holdout" and summary["eval_examples"] == 6
    assert summary["holdout"] == {"train": 24, "holdout": 6, "dropped": 0, "candidates": 30}
    train = {
        (e["premise"], e["hypothesis"])
        for e in map(json.loads, (tmp_path / "data" / "superglue" / "RTE" / "train.jsonl").read_text().splitlines())
    }
    assert set(batches_read) == train - held  # every other pair was trained on (the prefetch reads ahead)

    # A transfer file holding two held-out pairs: they are dropped; augmented and recombined copies come from
    # train only: no held-out premise or hypothesis (each ends with its row's number) reaches a batch, even varied.
    transfer = tmp_path / "more.jsonl"
    rows = [{"text_a": a, "text_b": b} for a, b in sorted(held)[:2]] + [{"text_a": "new premise", "text_b": "x"}]
    transfer.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    batches_read.clear()
    dt = load_recipe(
        "rte",
        params_override=[
            *tiny_run_overrides(tmp_path),
            *HOLDOUT,
            f"output_dir={tmp_path / 'student'}",
            f"distill.teacher={tmp_path / 'run' / 'best'}",
            "distill.student=teacher",
            f"distill.transfer=[file:{transfer},augment:1,augment:3:neighbors,pairs:2]",
            "distill.replace_p=1.0",
            "distill.epochs=1",
            "distill.batch_size=4",
            "distill.max_length=16",
        ],
    )
    result = distill(dt, verbose=0)
    sources = {r["source"]: r for r in result["transfer"]}
    assert sources[f"file:{transfer}"]["examples"] == 1 and sources[f"file:{transfer}"]["dropped_in_holdout"] == 2
    assert sources["train"]["examples"] == 24 and sources["augment:1"]["examples"] == 24
    assert 24 < sources["augment:3:neighbors"]["examples"] <= 72 and 24 < sources["pairs:2"]["examples"] <= 48
    seen = set(batches_read)
    assert not held & seen and train - held <= seen and ("new premise", "x") in seen and len(seen) > len(train)
    held_premises, held_numbers = {a for a, _ in held}, {b.split()[-1] for _, b in held}
    assert not held_premises & {a for a, _ in seen} and not held_numbers & {b.split()[-1] for _, b in seen}
    assert any(a not in {p for p, _ in train} for a, _ in seen)  # the neighbour copies were trained on
    assert result["eval_split"] == "holdout" and result["holdout"]["holdout"] == 6


class StopAfter(keras.callbacks.Callback):
    """Interrupts `fit` after `n` evaluations, as a kill would (after the checkpoint of the n-th)."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.n:
            raise KeyboardInterrupt


class Steps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


def test_a_killed_run_resumes_from_its_last_evaluation(tmp_path):
    write_distinct_rte(tmp_path / "data")
    out = tmp_path / "run"
    recipe = load_recipe(
        "rte",
        params_override=[
            *tiny_run_overrides(tmp_path),
            *HOLDOUT,
            "finetune.epochs=2",
            "finetune.evals_per_epoch=2",
            "finetune.batch_size=4",
            "finetune.max_length=16",
        ],
    )
    with pytest.raises(KeyboardInterrupt):
        finetune(recipe, verbose=0, callbacks=[StopAfter(3)])
    state = json.loads((out / "resume" / "state.json").read_text())
    assert [h["epoch"] for h in state["history"]] == [0.5, 1, 1.5]
    assert not (out / "best").exists() and not (out / "metrics.json").exists()  # nothing final before the end

    steps = Steps()
    summary = finetune(recipe, verbose=0, callbacks=[steps])
    assert [h["epoch"] for h in summary["epochs"]] == [0.5, 1, 1.5, 2]  # each evaluation once
    assert summary["epochs"][:3] == state["history"]
    assert steps.count == 3  # the last quarter of 12 steps (6 a pass, 3 per evaluation)
    assert sorted(os.listdir(out)) == ["best", "logs", "metrics.json", "recipe.yaml"]  # the resume folder is gone

    # Another recipe does not resume from that run's checkpoint.
    with pytest.raises(KeyboardInterrupt):
        finetune(recipe, verbose=0, callbacks=[StopAfter(1)])
    steps = Steps()
    other = load_recipe(
        "rte",
        params_override=[
            *tiny_run_overrides(tmp_path),
            *HOLDOUT,
            "finetune.epochs=1",
            "finetune.evals_per_epoch=2",
            "finetune.batch_size=4",
            "finetune.max_length=16",
            "finetune.learning_rate=1e-4",
        ],
    )
    assert len(finetune(other, verbose=0, callbacks=[steps])["epochs"]) == 2 and steps.count == 6


def test_seeds_run_once_each_and_the_best_on_the_holdout_is_kept(tmp_path, capsys):
    write_distinct_rte(tmp_path / "data")
    out = tmp_path / "run"
    recipe = load_recipe(
        "rte",
        params_override=[
            *tiny_run_overrides(tmp_path),
            *HOLDOUT,
            "finetune.epochs=1",
            "finetune.batch_size=4",
            "finetune.max_length=16",
            "finetune.learning_rate=3e-3",
            "finetune.seeds=[3,4]",
            "finetune.reinit_layers=1",
        ],
    )
    summary = finetune(recipe, verbose=0)
    values = [s["best"]["accuracy"] for s in summary["seeds"]]
    assert [s["seed"] for s in summary["seeds"]] == [3, 4]
    assert summary["best_seed"] == [3, 4][values.index(max(values))] and summary["best"]["accuracy"] == max(values)
    assert summary["across_seeds"]["mean"] == pytest.approx(sum(values) / 2)
    assert json.loads((out / "metrics.json").read_text()) == summary
    best_weights = (out / "best" / "model.weights.h5").read_bytes()
    assert best_weights == (out / "seeds" / str(summary["best_seed"]) / "best" / "model.weights.h5").read_bytes()
    assert load_tokenizer(str(out / "best")) is not None
    capsys.readouterr()
    again = finetune(recipe, verbose=0)  # every seed done: none is run again
    assert "seed 3 (1 of 2)" not in capsys.readouterr().out and again["seeds"] == summary["seeds"]


def test_an_ensemble_teacher_averages_its_members_logits(tmp_path):
    write_distinct_rte(tmp_path / "data")
    labels = ["entailment", "not_entailment"]
    for seed in (3, 4):
        save_model(
            tiny.classifier(num_classes=2, labels=labels, seed=seed),
            str(tmp_path / f"teacher{seed}"),
            tokenizer=tiny.tokenizer(str(tmp_path)),
        )
    save_model(
        tiny.randomize(tiny.encoder(num_layers=1), seed=5),
        str(tmp_path / "student"),
        tokenizer=tiny.tokenizer(str(tmp_path)),
    )
    members = [str(tmp_path / "teacher3"), str(tmp_path / "teacher4")]
    common = [
        *tiny_run_overrides(tmp_path),
        *HOLDOUT,
        f"distill.student={tmp_path / 'student'}",
        "distill.epochs=1",
        "distill.batch_size=4",
        "distill.max_length=16",
    ]
    ensemble = distill(
        load_recipe("rte", params_override=[*common, f"distill.teacher=[{','.join(members)}]"]), verbose=0
    )
    assert ensemble["ensemble"]["members"] == members
    singles = [
        distill(
            load_recipe("rte", params_override=[*common, f"distill.teacher={m}", f"output_dir={tmp_path / m[-1]}"]),
            verbose=0,
        )["teacher_metrics"]
        for m in members
    ]
    assert ensemble["ensemble"]["member_metrics"] == singles
    with pytest.raises(Exception, match="ensemble teacher gives logits only"):
        distill(
            load_recipe(
                "rte", params_override=[*common, f"distill.teacher=[{','.join(members)}]", "distill.hidden_weight=1.0"]
            ),
            verbose=0,
        )


class StopAtEvaluation(keras.callbacks.Callback):
    """Interrupts the `n`-th evaluation counted over every `fit` it joins (several seeds)."""

    def __init__(self, n):
        super().__init__()
        self.n, self.count = n, 0

    def on_epoch_end(self, epoch, logs=None):
        self.count += 1
        if self.count == self.n:
            raise KeyboardInterrupt


def test_seeds_of_a_killed_compress_stage_survive_in_its_resume_folder(tmp_path, capsys):
    """A compress stage writes into a new temporary folder each run: finished seeds must live outside it."""
    write_distinct_rte(tmp_path / "data")
    common = [
        *tiny_run_overrides(tmp_path),
        *HOLDOUT,
        "finetune.epochs=1",
        "finetune.batch_size=4",
        "finetune.max_length=16",
        "finetune.seeds=[3,4]",
    ]
    resume = tmp_path / ".resume" / "teacher"
    first = load_recipe("rte", params_override=[*common, f"output_dir={tmp_path / 'partial-1'}"])
    with pytest.raises(KeyboardInterrupt):
        finetune(first, verbose=0, callbacks=[StopAtEvaluation(2)], resume_dir=str(resume))  # in seed 4
    assert (resume / "seeds" / "3" / "metrics.json").is_file()
    capsys.readouterr()
    second = load_recipe("rte", params_override=[*common, f"output_dir={tmp_path / 'partial-2'}"])
    summary = finetune(second, verbose=0, resume_dir=str(resume))
    out = capsys.readouterr().out
    assert "seed 3 (1 of 2)" not in out and "seed 4 (2 of 2)" in out
    assert [s["seed"] for s in summary["seeds"]] == [3, 4]
    assert sorted(os.listdir(tmp_path / "partial-2" / "seeds")) == ["3", "4"] and not (resume / "seeds").exists()


def test_evaluate_scores_an_ensemble_as_its_members_averaged_logits(tmp_path):
    import subprocess
    import sys

    import numpy as np

    from fastformers_tf.runtime import KerasPredictor
    from tests.harness import ROOT

    write_distinct_rte(tmp_path / "data", val=21)
    labels = ["entailment", "not_entailment"]
    rows = [json.loads(line) for line in (tmp_path / "data/superglue/RTE/val.jsonl").read_text().splitlines()]
    premises, hypotheses = [r["premise"] for r in rows], [r["hypothesis"] for r in rows]
    gold = np.array([labels.index(r["label"]) for r in rows])
    members, logits = [], []
    for seed in (3, 4):
        model = tiny.classifier(num_classes=2, labels=labels, seed=seed)
        predictor = KerasPredictor(model, tiny.tokenizer(str(tmp_path)), max_length=16)
        kernel, bias = model.output_dense.get_weights()
        model.output_dense.set_weights([kernel, bias - np.median(predictor.logits(premises, hypotheses), 0)])
        logits.append(KerasPredictor(model, predictor.tokenizer, max_length=16).logits(premises, hypotheses))
        save_model(model, str(tmp_path / f"m{seed}"), tokenizer=tiny.tokenizer(str(tmp_path)))
        members.append(str(tmp_path / f"m{seed}"))
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "evaluate.py"),
            f"--model={','.join(members)}",
            "--task=rte",
            "--split=val",
            f"--data_dir={tmp_path / 'data'}",
            "--max_length=16",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    scored = json.loads(result.stdout.strip().splitlines()[-1])

    member_acc = [float(np.mean(x.argmax(-1) == gold)) for x in logits]
    assert [scored["members"][m]["accuracy"] for m in members] == pytest.approx(member_acc)
    assert scored["accuracy"] == pytest.approx(float(np.mean((logits[0] + logits[1]).argmax(-1) == gold)))
    assert (logits[0].argmax(-1) != logits[1].argmax(-1)).any()  # the members disagree: the average decides


def test_progress_into_a_pipe_is_one_line_per_evaluation(tmp_path):
    from tests.harness import run_tool

    write_distinct_rte(tmp_path / "data")
    overrides = [o for o in tiny_run_overrides(tmp_path) if not o.startswith(("data_dir", "output_dir"))]
    result = run_tool(
        "finetune.py",
        "--task=rte",
        f"--data_dir={tmp_path / 'data'}",
        f"--output_dir={tmp_path / 'r'}",
        "--params_override="
        + ",".join(
            [
                *overrides,
                "finetune.epochs=1",
                "finetune.evals_per_epoch=2",
                "finetune.batch_size=2",
                "finetune.max_length=16",
            ]
        ),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for stream in (result.stdout, result.stderr):  # no bar drawn into a pipe, Keras' or tqdm's
        assert "ETA" not in stream and "\b" not in stream and "\r" not in stream and "it/s" not in stream
    evaluations = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in evaluations] == ["epoch 0.5", "epoch 1"]  # one line per evaluation
    assert all(re.search(r"train loss [\d.]+; rte/\w+ \{'accuracy': ", line) for line in evaluations), evaluations
