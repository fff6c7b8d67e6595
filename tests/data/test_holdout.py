"""The hold-out carved from train: seeded, stratified, disjoint; SST-2 by whole sentences; `TaskData` splits."""

import numpy as np
import pytest

from fastformers_tf.data import get_task
from fastformers_tf.data.examples import Example
from fastformers_tf.data.holdout import HoldoutSpec, carve, maximal_phrases, overlap
from fastformers_tf.data.task_data import TaskData
from fastformers_tf.recipe import RecipeError, load_recipe
from tests import tiny

SENTENCES = [
    ("the film is a great ride", 1),
    ("a dull and awful mess", 0),
    ("the cast is good but the plot is bad", 0),
    ("one good movie about a team", 1),
    ("bad soup and a bad film", 0),
    ("the team won a great game", 1),
    ("an awful film about the law", 0),
    ("the movie is good", 1),
]


def sst2_phrases():
    """Every contiguous word run of a few sentences, as GLUE's SST-2 train file holds every phrase (with labels)."""
    rows, seen = [], set()
    for sentence, label in SENTENCES:
        words = sentence.split()
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + 3) + 1):
                phrase = " ".join(words[i:j])
                if phrase not in seen:
                    seen.add(phrase)
                    rows.append((phrase, label))
        if sentence not in seen:
            seen.add(sentence)
            rows.append((sentence, label))
    return rows


def write_sst2(data_dir, rows):
    folder = data_dir / "glue" / "SST-2"
    folder.mkdir(parents=True)
    for name, part in (("train.tsv", rows), ("dev.tsv", rows[:5]), ("glue_dev.tsv", rows[-3:])):
        with open(folder / name, "w", encoding="utf-8") as f:
            f.write("sentence\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in part))


def pairs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.3).astype(int)  # unbalanced, so stratification shows
    return [Example(f"train-{i}", f"premise {i}", f"hypothesis {i}", int(y)) for i, y in enumerate(labels)]


def test_same_seed_same_carve_other_seed_other_carve_and_stratified():
    examples = pairs()
    a, b = carve(examples, HoldoutSpec(examples=10, seed=3)), carve(examples, HoldoutSpec(examples=10, seed=3))
    c = carve(examples, HoldoutSpec(examples=10, seed=4))
    assert a.holdout.tolist() == b.holdout.tolist() and a.holdout.tolist() != c.holdout.tolist()
    assert not set(a.holdout) & set(a.train) and len(a.holdout) + len(a.train) == len(examples)
    labels = np.array([e.label for e in examples])
    assert abs(labels[a.holdout].mean() - labels.mean()) <= 0.5 / 10 + 1e-9  # within one example of the share
    assert len(carve(examples, HoldoutSpec(fraction=0.25)).holdout) == 10


def test_a_duplicate_of_a_held_out_pair_is_dropped_from_train():
    examples = pairs(20)
    examples.append(Example("train-dup", examples[0].text_a, examples[0].text_b, examples[0].label))
    cut = carve(examples, HoldoutSpec(examples=5, seed=0))
    held = {(examples[i].text_a, examples[i].text_b) for i in cut.holdout}
    assert all((examples[i].text_a, examples[i].text_b) not in held for i in cut.train)
    assert ("premise 0", "hypothesis 0") not in held or len(cut.dropped) == 1


def test_too_large_a_hold_out_and_unlabeled_rows_are_refused():
    with pytest.raises(ValueError, match="cannot be carved"):
        carve(pairs(5), HoldoutSpec(examples=5))
    with pytest.raises(ValueError, match="unlabeled"):
        carve([Example("test-0", "a"), Example("test-1", "b")], HoldoutSpec(examples=1))


def test_sst2_carves_whole_sentences_and_drops_every_phrase_inside_them():
    rows = sst2_phrases()
    examples = [Example(f"train-{i}", text, None, label) for i, (text, label) in enumerate(rows)]
    whole = {examples[i].text_a for i in maximal_phrases([e.text_a for e in examples])}
    assert whole == {s for s, _ in SENTENCES}
    cut = carve(examples, HoldoutSpec(examples=3, seed=1), nested_phrases=True)
    held = [examples[i].text_a for i in cut.holdout]
    train = [examples[i].text_a for i in cut.train]
    assert set(held) <= whole and len(cut.dropped) > 0
    # no phrase left in train occurs inside a held-out sentence, and no held-out sentence inside a train phrase
    assert not any(f" {t} " in f" {h} " for t in train for h in held)
    assert overlap(held, train) == 0.0
    # a random carve of phrases leaks as dev.tsv does: most of its phrases sit inside train phrases
    rng = np.random.default_rng(0)
    random_held = set(rng.choice(len(rows), 10, replace=False).tolist())
    random_train = [t for i, (t, _) in enumerate(rows) if i not in random_held]
    assert overlap([rows[i][0] for i in random_held], random_train) > 0.5


def test_task_data_reads_holdout_and_train_without_it(tmp_path):
    write_sst2(tmp_path / "data", sst2_phrases())
    task, tokenizer, spec = get_task("sst2"), tiny.tokenizer(str(tmp_path)), HoldoutSpec(examples=2, seed=0)

    def read(split, holdout=spec):
        return TaskData.read(task, split, str(tmp_path / "data"), tokenizer, 16, holdout=holdout)

    whole, train, held = read("train", None), read("train"), read("holdout")
    assert len(train) + len(held) + len(train.carve.dropped) == len(whole)
    assert {e.guid for e in train.examples}.isdisjoint(e.guid for e in held.examples)
    assert train.key != whole.key and held.key.startswith("holdout-")
    assert not train.keeps(Example("x", held.examples[0].text_a.split()[0]))  # a word inside a held-out sentence
    assert read("glue_dev").carve is None  # other splits are read whole
    with pytest.raises(ValueError, match="holdout.examples or holdout.fraction"):
        read("holdout", None)


def test_recipe_refuses_a_holdout_split_without_a_holdout_and_both_sizes():
    with pytest.raises(RecipeError, match="no hold-out is carved"):
        load_recipe("rte", params_override=["holdout.fraction=0", "distill.eval_split=holdout"])
    with pytest.raises(RecipeError, match="set one"):
        load_recipe("rte", params_override=["holdout.examples=10", "holdout.fraction=0.1"])
    spec = load_recipe("rte", params_override=["holdout.seed=5"]).holdout_spec()
    assert spec.fraction == 0.1 and spec.seed == 5
