"""Transfer sets: the examples the teacher labels for the student.

A source is named as in the recipe's `distill.transfer` list:

- the train split (always first; its gold labels are kept for `alpha > 0`);
- `split:NAME`: another split of the task, labeled or not (RTE's `test` inputs);
- `file:PATH`: more text, one example per non-blank line, or a `.jsonl` file
  whose rows have `text` (or `text_a`) and optionally `text_b`;
- `augment:N` (or `augment:N:drop`): N word-drop + swap copies of each train
  example; `augment:N:neighbors`: N copies with words replaced by their
  nearest words in the teacher's embedding matrix (TinyBERT's recipe without
  an MLM head); `pairs:N`: each train pair's first text with N other pairs'
  second texts. See `fastformers_tf.distill.augment`. Copies are seeded by
  the recipe's seed and unlabeled: the teacher labels them.

Examples from a source other than train carry no gold label. The evaluation
split may not be a source: it would score the student on what it was taught,
and the hold-out may not be one either (nor may copies of held-out examples:
only the train examples left after the carve are copied).
"""

import dataclasses
import hashlib
import os
import time

from fastformers_tf.data.examples import DataError, Example, data_error
from fastformers_tf.data.holdout import HOLDOUT
from fastformers_tf.data.readers import read_jsonl, read_lines
from fastformers_tf.distill import augment
from fastformers_tf.errors import ArgumentError

KINDS = ("split", "file", "augment", "pairs")
AUGMENT_MODES = ("drop", "neighbors")


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
    seconds: float = 0.0  # to make the copies (augmented sources)

    @property
    def labeled(self):
        return bool(self.examples) and self.examples[0].label is not None


def parse(spec, flag="distill.transfer"):
    """`(kind, value)` of a source spec such as "split:test" ("augment:4:neighbors" gives `("augment", "4:neighbors")`).

    Raises `ArgumentError` naming the flag.
    """
    kind, _, value = str(spec).partition(":")
    if kind not in KINDS or not value:
        raise ArgumentError(f"{flag}: {spec!r} is not one of split:NAME, file:PATH, augment:N[:MODE], pairs:N.")
    if kind in ("augment", "pairs"):
        copies, _, mode = value.partition(":")
        if not copies.isdigit() or int(copies) < 1:
            raise ArgumentError(f"{flag}: {spec!r} needs a whole number of copies >= 1 ({kind}:2).")
        if kind == "augment" and mode and mode not in AUGMENT_MODES:
            raise ArgumentError(f"{flag}: {spec!r}: the augmentation mode is one of {', '.join(AUGMENT_MODES)}.")
        if kind == "pairs" and mode:
            raise ArgumentError(f"{flag}: {spec!r} takes no mode (pairs:N).")
    return kind, value


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


def sources(task, train, specs, eval_split, data_dir, seed, neighbor_table=None, replace_p=0.4):
    """The transfer set: `[Source]`, train first.

    Args:
        task: the `Task`.
        train: `(split, examples, path, key)` of the (possibly subsampled) train split.
        specs: the recipe's `distill.transfer` list.
        eval_split: the split the student is evaluated on (refused as a source).
        data_dir: where the task's split files are.
        seed: seed of the augmentation.
        neighbor_table: `f(examples) -> augment.NeighborTable`, for `augment:N:neighbors`.
        replace_p: the probability that `augment:N:neighbors` replaces a word.
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
            result.append(_copies(kind, value, (split, examples, path, key), seed, neighbor_table, replace_p))
    return result


def _copies(kind, value, train, seed, neighbor_table, replace_p):
    """The `Source` of `augment:N[:MODE]` or `pairs:N` over the train examples."""
    start = time.time()
    split, examples, path, key = train
    spec = f"{kind}:{value}"
    copies, _, mode = value.partition(":")
    copies, mode = int(copies), mode or "drop"
    if kind == "pairs":
        if any(e.text_b is None for e in examples):
            raise ArgumentError(
                f"distill.transfer: {spec} recombines text pairs; this task's examples are single texts."
            )
        found = augment.pair_copies(examples, copies, seed)
    elif mode == "drop":
        found = augment.word_drop(examples, copies, seed)
    else:
        if neighbor_table is None:
            raise ArgumentError(f"distill.transfer: {spec} needs the teacher's embedding matrix.")
        found = augment.neighbor_copies(examples, copies, seed, neighbor_table(examples), replace_p)
    if not found:
        raise DataError(f"distill.transfer {spec}: no copy differs from its train example.")
    # The copies' digest keys their tokenized features: neighbours depend on the teacher, not only on the spec.
    digest = hashlib.sha1("\n".join(f"{e.text_a}\t{e.text_b}" for e in found).encode()).hexdigest()[:10]
    name = "augment" if kind == "augment" and mode == "drop" else f"{kind}-{mode}" if kind == "augment" else kind
    return Source(spec, f"{key}-{name}{copies}-seed{seed}-{digest}", path, found, seconds=round(time.time() - start, 1))
