"""Transfer sets: the examples the teacher labels for the student.

A source is named as in the recipe's `distill.transfer` list:

- the train split (always first; its gold labels are kept for `alpha > 0`);
- `split:NAME`: another split of the task, labeled or not (RTE's `test` inputs);
- `file:PATH`: more text, one example per non-blank line, or a `.jsonl` file
  whose rows have `text` (or `text_a`) and optionally `text_b`;
- `augment:N`: N augmented copies of each train example. An augmented copy
  drops each word with probability 0.1 (never all of them) and swaps one
  random pair of adjacent words, in each text of the example; the draws are
  seeded by the recipe's seed, so a rerun sees the same copies. Copies are
  unlabeled: the teacher labels them.

Examples from a source other than train carry no gold label. The evaluation
split may not be a source: it would score the student on what it was taught.
"""

import dataclasses
import hashlib
import os

import numpy as np

from fastformers_tf.data.examples import DataError, Example, data_error
from fastformers_tf.data.holdout import HOLDOUT
from fastformers_tf.data.readers import read_jsonl, read_lines
from fastformers_tf.errors import ArgumentError

KINDS = ("split", "file", "augment")
WORD_DROP = 0.1


@dataclasses.dataclass
class Source:
    """One part of the transfer set.

    Args:
        name: as in the recipe ("train", "split:test", "file:more.txt", "augment:2").
        key: names its tokenized features and cached teacher logits (split and selection).
        path: the data file it comes from (its size and time key the caches).
        examples: its `Example`s.
    """

    name: str
    key: str
    path: str
    examples: list
    dropped: int = 0  # examples left out because they lie in the hold-out (`without_holdout`)

    @property
    def labeled(self):
        return bool(self.examples) and self.examples[0].label is not None


def parse(spec, flag="distill.transfer"):
    """`(kind, value)` of a source spec such as "split:test"; raises `ArgumentError` naming the flag."""
    kind, _, value = str(spec).partition(":")
    if kind not in KINDS or not value:
        raise ArgumentError(f"{flag}: {spec!r} is not one of split:NAME, file:PATH, augment:N.")
    if kind == "augment" and (not value.isdigit() or int(value) < 1):
        raise ArgumentError(f"{flag}: {spec!r} needs a whole number of copies >= 1 (augment:2).")
    return kind, value


def _augment_text(text, rng):
    words = text.split()
    if len(words) > 1:
        keep = rng.random(len(words)) >= WORD_DROP
        if not keep.any():
            keep[rng.integers(len(words))] = True
        words = [w for w, k in zip(words, keep, strict=True) if k]
    if len(words) > 1:
        i = int(rng.integers(len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def augment(examples, copies, seed):
    """`copies` unlabeled, seeded word-drop + adjacent-swap variants of each example (see the module doc)."""
    rng = np.random.default_rng(seed)
    out = []
    for example in examples:
        for c in range(copies):
            out.append(
                Example(
                    guid=f"{example.guid}-aug{c}",
                    text_a=_augment_text(example.text_a, rng),
                    text_b=None if example.text_b is None else _augment_text(example.text_b, rng),
                )
            )
    return out


def read_text_file(path):
    """Unlabeled examples from a text file (one per non-blank line) or a JSONL file (`text`/`text_a`, `text_b`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: No such file (distill.transfer file:{path})")
    examples = []
    if path.endswith(".jsonl"):
        for line, row in read_jsonl(path):
            text_a = row.get("text_a", row.get("text")) if isinstance(row, dict) else None
            if not isinstance(text_a, str) or not text_a.strip():
                raise data_error(path, line, "expected a non-empty 'text' or 'text_a' field")
            text_b = row.get("text_b")
            examples.append(Example(guid=f"file-{line}", text_a=text_a, text_b=text_b))
    else:
        examples = [Example(guid=f"file-{line}", text_a=text) for line, text in read_lines(path)]
    if not examples:
        raise DataError(f"{path}: no texts in this transfer file.")
    return examples


def without_holdout(source, train):
    """`source` without the examples that `train` (a `TaskData` with a carved hold-out) may not be trained beside.

    An example whose text is a held-out one (or, for SST-2, inside a held-out
    sentence) is dropped; `dropped` counts them. The key names the cut, so
    caches of the whole source are not reused.
    """
    if train.carve is None:
        return source
    kept = [e for e in source.examples if train.keeps(e)]
    if len(kept) == len(source.examples):
        return source
    if not kept:
        raise DataError(f"distill.transfer {source.name}: every example lies in the hold-out.")
    key = f"{source.key}-{train.key.split('-', 1)[1]}"
    return dataclasses.replace(source, key=key, examples=kept, dropped=len(source.examples) - len(kept))


def sources(task, train, specs, eval_split, data_dir, seed):
    """The transfer set: `[Source]`, train first.

    Args:
        task: the `Task`.
        train: `(split, examples, path, key)` of the (possibly subsampled) train split.
        specs: the recipe's `distill.transfer` list.
        eval_split: the split the student is evaluated on (refused as a source).
        data_dir: where the task's split files are.
        seed: seed of the augmentation.
    """
    split, examples, path, key = train
    if eval_split == split:
        raise ArgumentError(f"distill.eval_split={eval_split!r} is the train split: evaluate on another split.")
    result = [Source("train", key, path, examples)]
    pair_task = any(e.text_b is not None for e in examples)
    for spec in specs:
        kind, value = parse(spec)
        if kind == "split" and value == HOLDOUT:
            raise ArgumentError(f"distill.transfer: split:{HOLDOUT} is the hold-out; no stage may train on it.")
        if kind == "split":
            if value == eval_split:
                raise ArgumentError(
                    f"distill.transfer: split:{value} is the evaluation split (distill.eval_split); "
                    "a student taught on it would be scored on what it was taught."
                )
            if value == split:
                raise ArgumentError(f"distill.transfer: split:{value} is the train split, already in the set.")
            if value not in task.files:
                raise ArgumentError(
                    f"distill.transfer: task {task.name} has no split {value!r}; it has {sorted(task.files)}."
                )
            source_path = os.path.join(data_dir, task.files[value])
            if not os.path.isfile(source_path):
                raise FileNotFoundError(f"{source_path}: No such file (distill.transfer {spec})")
            found = [dataclasses.replace(e, label=None) for e in task.read(source_path, value)]
            if not found:
                raise DataError(f"{source_path}: no examples in the {task.name} {value} file.")
            result.append(Source(spec, value, source_path, found))
        elif kind == "file":
            found = read_text_file(value)
            if pair_task and all(e.text_b is None for e in found):
                raise DataError(
                    f"{value}: task {task.name} classifies text pairs; give a JSONL file with text_a and text_b."
                )
            digest = hashlib.sha1(os.path.abspath(value).encode()).hexdigest()[:8]
            result.append(Source(spec, f"file-{digest}", value, found))
        else:
            copies = int(value)
            result.append(Source(spec, f"{key}-augment{copies}-seed{seed}", path, augment(examples, copies, seed)))
    return result
