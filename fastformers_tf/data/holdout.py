"""A labeled hold-out carved from the train split: the data every pick is made on.

Where a task has no labeled split besides the one it is reported on (RTE's
val, SST-2's glue_dev), the best epoch, the pruning size and the pick of the
main job would otherwise be made on the report split. `carve` cuts a seeded,
label-stratified hold-out from train; `TaskData.read(..., holdout=spec)` then reads
split "holdout" as that part and split "train" as the rest, for every stage.

Phrase tasks (SST-2, `Task.nested_phrases`): GLUE's SST-2 train set holds
every parse-tree phrase of about 8,500 sentences, so a random carve leaks: a
held-out phrase is usually inside a train phrase of the same sentence. Here the
hold-out is carved from *whole sentences*, the train phrases that no other
train phrase contains, and every train phrase that occurs inside a held-out
one is dropped from train (`Carve.dropped`). `overlap` measures what is left
the way `../shared/data/README.md` does: the share of held-out texts that are
substrings of a remaining train text.

Other examples of a training stage (transfer sources, augmented copies) pass
through `Carve.keeps`, which refuses a held-out text (or, for phrase tasks,
any text inside one).

Nothing here imports TensorFlow.
"""

import dataclasses
import hashlib
import json

import numpy as np

HOLDOUT = "holdout"  # the split name the hold-out is read by


@dataclasses.dataclass(frozen=True)
class HoldoutSpec:
    """How the hold-out is cut: `examples` (a count) or `fraction` of `split`, stratified by label, seeded."""

    examples: int = 0
    fraction: float = 0.0
    seed: int = 0
    split: str = "train"

    @property
    def enabled(self):
        return self.examples > 0 or self.fraction > 0

    def size(self, n):
        wanted = self.examples if self.examples > 0 else int(round(self.fraction * n))
        if not 0 < wanted < n:
            raise ValueError(f"A hold-out of {wanted} examples cannot be carved from {n}: it must leave both sides.")
        return wanted

    def digest(self):
        fields = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(fields.encode()).hexdigest()[:8]

    @classmethod
    def of(cls, config):
        """The spec of a recipe's `holdout` section (any object with these fields), or None when it is off."""
        if config is None:
            return None
        spec = cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})
        return spec if spec.enabled else None


def _norm(text):
    return " ".join(text.split())


def _text_of(example):
    return (_norm(example.text_a), None if example.text_b is None else _norm(example.text_b))


def _token_substrings(words):
    """Every contiguous run of `words`, joined by single spaces (the text itself included)."""
    return (" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1))


def maximal_phrases(texts):
    """Indices of the texts that no *other* text contains (as a run of whole words): SST-2's whole sentences."""
    texts = [_norm(t) for t in texts]
    present = set(texts)
    inside = set()
    for text in set(texts):
        words = text.split()
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                if j - i < len(words):  # proper runs only
                    run = " ".join(words[i:j])
                    if run in present:
                        inside.add(run)
    seen, result = set(), []
    for i, text in enumerate(texts):
        if text not in inside and text not in seen:  # the first of identical copies
            seen.add(text)
            result.append(i)
    return result


def _stratified(labels, candidates, size, rng):
    """`size` of `candidates`, each label's share as in the candidates (largest remainders)."""
    candidates = np.asarray(candidates)
    values, counts = np.unique(labels[candidates], return_counts=True)
    exact = counts / counts.sum() * size
    take = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - take))[: size - take.sum()]:
        take[k] += 1
    chosen = [
        rng.choice(candidates[labels[candidates] == v], t, replace=False) for v, t in zip(values, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


@dataclasses.dataclass
class Carve:
    """The two sides of a carved split, as indices into its examples.

    Args:
        train: what training stages read, in file order.
        holdout: the hold-out, in file order.
        dropped: train examples dropped because their text occurs in the hold-out (phrase tasks).
        candidates: how many examples the hold-out could be drawn from (whole sentences for phrase tasks).
    """

    train: np.ndarray
    holdout: np.ndarray
    dropped: np.ndarray
    candidates: int
    nested: bool
    _blocked: set = dataclasses.field(repr=False, default_factory=set)

    def keeps(self, example):
        """Whether a training example may be trained on: its text is not (inside) a held-out one."""
        if self.nested:
            return _norm(example.text_a) not in self._blocked
        return _text_of(example) not in self._blocked

    def record(self):
        return {
            "train": len(self.train),
            "holdout": len(self.holdout),
            "dropped": len(self.dropped),
            "candidates": self.candidates,
        }


def carve(examples, spec, nested_phrases=False):
    """Splits `examples` (a labeled split) into a `Carve` by `spec` (a `HoldoutSpec`); the same seed, the same carve.

    Examples that share a `group` (COPA's choices, MultiRC's answers) stay together.
    """
    labels = np.array([-1 if e.label is None else e.label for e in examples])
    if (labels < 0).any():
        raise ValueError("A hold-out is carved from a labeled split; this one has unlabeled examples.")
    rng = np.random.default_rng(spec.seed)
    if any(e.group is not None for e in examples):
        groups = list(dict.fromkeys(e.group for e in examples))
        chosen = set(rng.choice(len(groups), spec.size(len(groups)), replace=False).tolist())
        held = {groups[i] for i in chosen}
        holdout = np.array([i for i, e in enumerate(examples) if e.group in held], dtype=np.int64)
        candidates = len(groups)
    else:
        pool = maximal_phrases([e.text_a for e in examples]) if nested_phrases else range(len(examples))
        pool = list(pool)
        holdout = _stratified(labels, pool, spec.size(len(pool)), rng)
        candidates = len(pool)
    held_set = set(holdout.tolist())
    if nested_phrases:
        blocked = {run for i in holdout for run in _token_substrings(_norm(examples[i].text_a).split())}
    else:
        blocked = {_text_of(examples[i]) for i in holdout}
    train, dropped = [], []
    for i, example in enumerate(examples):
        if i in held_set:
            continue
        inside = (_norm(example.text_a) in blocked) if nested_phrases else (_text_of(example) in blocked)
        (dropped if inside else train).append(i)
    as_array = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
    return Carve(as_array(train), holdout, as_array(dropped), candidates, nested_phrases, blocked)


def overlap(holdout_texts, train_texts):
    """The share of `holdout_texts` that are substrings of some text in `train_texts` (the data README's measure)."""
    if not holdout_texts:
        return 0.0
    joined = "\n".join(_norm(t) for t in train_texts)
    return sum(_norm(t) in joined for t in holdout_texts) / len(holdout_texts)
