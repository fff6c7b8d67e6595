"""`distill(recipe)` end to end on tiny models and tiny RTE files: layout, logit cache, tokenizers, bad input."""

import json
import os

import numpy as np
import pytest

from fastformers_tf.distill import cache
from fastformers_tf.distill.run import distill
from fastformers_tf.errors import ArgumentError
from fastformers_tf.models import TextClassifier, load_model, save_model
from fastformers_tf.recipe import load_recipe
from tests import tiny
from tests.harness import write_rte

RTE_LABELS = ["entailment", "not_entailment"]


def other_tokenizer(directory):
    """A WordPiece tokenizer whose ids differ from `tiny.tokenizer`'s for every word."""
    from transformers import BertTokenizerFast

    words = "the a movie film great good bad awful team won lost game vote bill law cook soup onion".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"x{i}" for i in range(7)] + words[::-1]
    vocab += [f"w{i}" for i in range(99 - len(vocab))]
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    return BertTokenizerFast(vocab_file=path)


@pytest.fixture
def setup(tmp_path):
    """Tiny RTE files, a tiny 2-label teacher folder and a tiny student encoder folder."""
    write_rte(tmp_path / "data")
    teacher = tiny.classifier(num_classes=2, labels=RTE_LABELS, seed=3)
    save_model(teacher, str(tmp_path / "teacher"), tokenizer=tiny.tokenizer(str(tmp_path)))
    student = tiny.randomize(tiny.encoder(num_layers=2), seed=4)
    save_model(student, str(tmp_path / "student"), tokenizer=tiny.tokenizer(str(tmp_path)))
    return tmp_path


def recipe(tmp_path, *overrides, out="run"):
    return load_recipe(
        "rte",
        params_override=[
            *tiny.WHOLE_SPLITS,
            f"data_dir={tmp_path / 'data'}",
            f"output_dir={tmp_path / out}",
            f"cache_dir={tmp_path / 'cache'}",
            f"distill.teacher={tmp_path / 'teacher'}",
            f"distill.student={tmp_path / 'student'}",
            "distill.epochs=2",
            "distill.batch_size=4",
            "distill.max_length=16",
            "distill.learning_rate=1e-3",
            *overrides,
        ],
    )


@pytest.fixture
def teacher_calls(monkeypatch):
    """Records the key of every split the teacher really runs on (cache misses)."""
    calls = []
    run_teacher = cache.run_teacher

    def counted(teacher, data, *args, **kwargs):
        calls.append(data.key)
        return run_teacher(teacher, data, *args, **kwargs)

    monkeypatch.setattr(cache, "run_teacher", counted)
    return calls


def test_layout_metrics_and_a_rerun_that_never_calls_the_teacher(setup, teacher_calls):
    out = setup / "run"
    summary = distill(recipe(setup, "distill.transfer=[split:test,augment:2]"), verbose=0)
    assert sorted(os.listdir(out)) == ["best", "logs", "metrics.json", "recipe.yaml"]
    assert json.loads((out / "metrics.json").read_text()) == summary
    # Each source once, then the eval split; copies are keyed by their spec, seed and the digest of their texts.
    assert teacher_calls[:2] == ["train", "test"] and teacher_calls[3:] == ["val"]
    assert teacher_calls[2].startswith("train-augment2-seed42-") and len(teacher_calls) == 4
    sources = {r["source"]: r for r in summary["transfer"]}
    assert {name: r["examples"] for name, r in sources.items()} == {"train": 24, "split:test": 4, "augment:2": 48}
    assert "teacher_accuracy" in sources["train"] and "teacher_accuracy" not in sources["split:test"]
    assert all(0 <= r["student_agreement"] <= 1 and not r["teacher_logits_cached"] for r in sources.values())
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2] and all(e["seconds"] > 0 for e in summary["epochs"])
    best = load_model(str(out / "best"))
    assert isinstance(best, TextClassifier) and best.labels == RTE_LABELS
    assert best.encoder.config.num_layers == 2 and not best.encoder.output_hidden_states

    teacher_calls.clear()
    again = distill(recipe(setup, "distill.transfer=[split:test,augment:2]", out="again"), verbose=0)
    assert teacher_calls == []
    assert all(r["teacher_logits_cached"] for r in again["transfer"])
    assert again["teacher_metrics"] == summary["teacher_metrics"]
    # Another teacher (one weight changed) misses the cache.
    teacher = load_model(str(setup / "teacher"))
    teacher.output_dense.bias.assign(teacher.output_dense.bias + 0.5)
    save_model(teacher, str(setup / "teacher"), tokenizer=tiny.tokenizer(str(setup)))
    distill(recipe(setup, out="third"), verbose=0)
    assert teacher_calls == ["train", "val"]


def test_a_student_with_another_tokenizer_learns_from_per_example_logits(setup, teacher_calls):
    student = tiny.randomize(tiny.encoder(num_layers=1), seed=6)
    save_model(student, str(setup / "student"), tokenizer=other_tokenizer(str(setup / "other")))
    summary = distill(recipe(setup, "distill.keep_layers=[0]"), verbose=0)
    assert teacher_calls == ["train", "val"]  # tokenized with the teacher's tokenizer, once
    assert summary["student"]["layers"] == 1 and 0 <= summary["best"]["accuracy"] <= 1
    with pytest.raises(ArgumentError, match=r"hidden_weight/attention_weight .* different tokenizers"):
        distill(recipe(setup, "distill.hidden_weight=1.0", out="intermediate"), verbose=0)


def test_intermediate_losses_train_a_plain_student(setup):
    summary = distill(recipe(setup, "distill.hidden_weight=1.0", "distill.attention_weight=1.0"), verbose=0)
    best = load_model(str(setup / "run" / "best"))
    assert not best.encoder.output_hidden_states and not best.encoder.output_attentions
    assert np.isfinite(summary["epochs"][-1]["loss"])


def test_two_stages_move_the_layer_losses_down_then_train_on_logits_alone(setup, monkeypatch):
    from fastformers_tf.distill import run

    made = []
    distiller = run.Distiller

    def recorded(teacher, student, **kwargs):
        made.append((teacher is not None, kwargs["hidden_weight"], kwargs["attention_weight"], kwargs["logit_weight"]))
        return distiller(teacher, student, **kwargs)

    monkeypatch.setattr(run, "Distiller", recorded)
    two_stage = ("distill.hidden_weight=1.0", "distill.attention_weight=1.0", "distill.layerwise_epochs=4")
    summary = distill(recipe(setup, *two_stage), verbose=0)
    # Stage 1: the teacher in the loop, layer losses alone; stage 2: cached logits alone, no teacher.
    assert made == [(True, 1.0, 1.0, 0.0), (False, 0.0, 0.0, 1.0)]
    layerwise = summary["student"]["layerwise"]
    assert len(layerwise["loss"]) == 4 and layerwise["loss"][-1] < layerwise["loss"][0]
    assert not (setup / "run" / "resume-layerwise").exists()  # complete: nothing left to resume

    # Killed in stage 2: the rerun reuses stage 1's student instead of training it again.
    class Stop(Exception):
        pass

    def killed(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(run, "fit_keeping_best", killed)
    with pytest.raises(Stop):
        distill(recipe(setup, *two_stage, out="killed"), verbose=0)
    monkeypatch.undo()
    made.clear()
    monkeypatch.setattr(run, "Distiller", recorded)
    again = distill(recipe(setup, *two_stage, out="killed"), verbose=0)
    assert made == [(False, 0.0, 0.0, 1.0)] and again["student"]["layerwise"]["loss"] == layerwise["loss"]
    with pytest.raises(ValueError, match="distill.layerwise_epochs=2 in .* set distill.hidden_weight"):
        distill(recipe(setup, "distill.layerwise_epochs=2", out="none"), verbose=0)


@pytest.mark.parametrize(
    "override, error, message",
    [
        ("distill.keep_layers=[0,5]", ArgumentError, r"distill.keep_layers=\[0, 5\]: indices \[5\] out of range"),
        ("distill.transfer=[split:val]", ArgumentError, "split:val is the evaluation split"),
        ("distill.transfer=[split:nope]", ArgumentError, "has no split 'nope'"),
        ("distill.max_length=100", ValueError, "distill.max_length=100 exceeds the 64 tokens"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(setup, override, error, message):
    with pytest.raises(error, match=message):
        distill(recipe(setup, override), verbose=0)
    assert not (setup / "run").exists()


def test_a_teacher_of_another_label_set_is_refused(setup):
    save_model(tiny.classifier(num_classes=3, labels=["x", "y", "z"]), str(setup / "teacher"))
    with pytest.raises(ArgumentError, match=r"--teacher=.*teacher has 3 labels \['x', 'y', 'z'\]; task rte has 2"):
        distill(recipe(setup), verbose=0)
    assert not (setup / "run").exists()


def test_the_teacher_cut_to_fewer_layers_keeps_its_head_and_a_new_shape_gets_a_new_one(setup):
    from fastformers_tf.data import get_task
    from fastformers_tf.distill.run import build_student

    cfg = recipe(setup, f"distill.student={setup / 'teacher'}", "distill.keep_layers=[1]").distill
    student, _, made = build_student(cfg, get_task("rte"))
    teacher = load_model(str(setup / "teacher"))
    assert made["layers"] == 1 and student.labels == RTE_LABELS
    assert all(
        np.array_equal(a, b)
        for a, b in zip(student.output_dense.get_weights(), teacher.output_dense.get_weights(), strict=True)
    )
    cfg = recipe(setup, f"distill.student={setup / 'teacher'}", "distill.hidden_dim=16", "distill.num_heads=2").distill
    student, _, made = build_student(cfg, get_task("rte"))
    assert student.output_dense.kernel.shape == (16, 2) and made["init"]["copied_in_part"] > 0


def test_quantize_aware_distillation_calibrates_the_student_then_trains_it_through_fake_quantization(setup):
    from fastformers_tf.quantize import is_quantized, quant_dense_layers

    summary = distill(recipe(setup, "distill.quantize_aware=true", "distill.calibration_batches=2"), verbose=0)
    assert summary["student"]["quantize_aware"] == {"calibration_batches": 2}
    best = load_model(str(setup / "run" / "best"))
    assert is_quantized(best)
    seen = max(float(d.batches.numpy()) for d in quant_dense_layers(best))
    assert seen > 2  # the 2 calibration batches, then every training step moved the ranges
