"""Metrics: pure numpy functions, and the `metric(examples, probs)` adapters tasks use.

`labels` and `preds` are integer class indices of equal length. For the
"candidates" formulation class 1 is "true", so `probs[:, 1]` is P(true).
"""

import collections
import re
import string

import numpy as np


def _arrays(labels, preds):
    labels, preds = np.asarray(labels), np.asarray(preds)
    if labels.shape != preds.shape:
        raise ValueError(f"labels {labels.shape} and preds {preds.shape} differ in shape.")
    return labels, preds


def _class_f1(is_label, is_pred):
    """F1 of one class from boolean masks: 2 TP / (2 TP + FP + FN)."""
    tp, fp, fn = np.sum(is_label & is_pred), np.sum(~is_label & is_pred), np.sum(is_label & ~is_pred)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def accuracy(labels, preds):
    """Fraction of `preds` equal to `labels` (0.0 for no examples).

    Example:
        >>> accuracy([0, 1, 1], [0, 1, 0])
        0.6666666666666666
    """
    labels, preds = _arrays(labels, preds)
    return float(np.mean(labels == preds)) if labels.size else 0.0


def f1_binary(labels, preds):
    """F1 of the positive class 1; 0.0 when there are no positive labels or predictions."""
    labels, preds = _arrays(labels, preds)
    return float(_class_f1(labels == 1, preds == 1))


def macro_f1(labels, preds, num_classes=None):
    """Unweighted mean of per-class F1.

    Args:
        labels, preds: class indices.
        num_classes: average over `range(num_classes)`; by default over the
            classes present in labels or preds (as scikit-learn and the
            SuperGLUE CB scorer do). A class never predicted counts with F1 0.
    """
    labels, preds = _arrays(labels, preds)
    classes = range(num_classes) if num_classes else np.union1d(labels, preds)
    scores = [_class_f1(labels == c, preds == c) for c in classes]
    return float(np.mean(scores)) if scores else 0.0


def matthews_corrcoef(labels, preds):
    """Matthews correlation (multi-class form, R_K); 0.0 when undefined (a constant column)."""
    labels, preds = _arrays(labels, preds)
    if not labels.size:
        return 0.0
    k = int(max(labels.max(), preds.max())) + 1
    confusion = np.zeros((k, k), np.float64)
    np.add.at(confusion, (labels, preds), 1)
    true, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = np.trace(confusion), confusion.sum()
    denominator = np.sqrt((total**2 - predicted @ predicted) * (total**2 - true @ true))
    return float((correct * total - true @ predicted) / denominator) if denominator else 0.0


def exact_match(labels, preds, groups):
    """Fraction of groups whose every item is right (MultiRC EM: all answers of a question)."""
    labels, preds = _arrays(labels, preds)
    right = {}
    for group, ok in zip(groups, labels == preds, strict=True):
        right[group] = right.get(group, True) and bool(ok)
    return float(np.mean(list(right.values()))) if right else 0.0


def f1a(labels, preds):
    """MultiRC F1a: binary F1 over all answer options of all questions."""
    return f1_binary(labels, preds)


# ReCoRD scoring, as in the official (SQuAD-derived) evaluation script.


def normalize_answer(text):
    """Lowercase, drop punctuation, the articles a/an/the and extra whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def text_exact_match(prediction, answer):
    """1.0 if the normalized texts are equal."""
    return float(normalize_answer(prediction) == normalize_answer(answer))


def token_f1(prediction, answer):
    """F1 over the bags of normalized tokens."""
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    common = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def max_over_answers(score, prediction, answers):
    """The best `score(prediction, answer)` over the gold answers (0.0 when there are none).

    Example:
        >>> max_over_answers(token_f1, "the Eiffel Tower", ["Tower", "Eiffel Tower"])
        1.0
    """
    return max((score(prediction, answer) for answer in answers), default=0.0)


# Task adapters: `metric(examples, probs) -> {name: value}`, main metric first.


def _labels(examples):
    labels = [example.label for example in examples]
    if any(label is None for label in labels):
        raise ValueError("Metrics need labeled examples; this split has unlabeled ones (a test split?).")
    return np.asarray(labels, np.int64)


def best_in_groups(examples, probs):
    """Decodes candidates: group -> index of its example with the highest P(true) = `probs[:, 1]`.

    Groups keep the order in which they first appear; ties go to the first candidate.
    """
    probs = np.asarray(probs)
    best = {}
    for i, example in enumerate(examples):
        if example.group not in best or probs[i, 1] > probs[best[example.group], 1]:
            best[example.group] = i
    return best


_CLASSIFICATION = {"accuracy": accuracy, "f1": f1_binary, "macro_f1": macro_f1, "mcc": matthews_corrcoef}


def classification_metric(*names):
    """A `metric(examples, probs)` returning the named metrics (of "accuracy", "f1", "macro_f1", "mcc") in order.

    Example:
        >>> metric = classification_metric("f1", "accuracy")  # MRPC
    """
    unknown = set(names) - set(_CLASSIFICATION)
    if unknown:
        raise ValueError(f"Unknown metrics {sorted(unknown)}; known: {sorted(_CLASSIFICATION)}.")

    def metric(examples, probs):
        labels, preds = _labels(examples), np.argmax(probs, axis=-1)
        return {name: _CLASSIFICATION[name](labels, preds) for name in names}

    return metric


def candidates_accuracy(examples, probs):
    """COPA: a group is right when its highest-P(true) candidate is the true one."""
    labels = _labels(examples)
    return {"accuracy": float(np.mean([labels[i] == 1 for i in best_in_groups(examples, probs).values()]))}


def multirc_metric(examples, probs):
    """MultiRC: F1a over answers, EM over questions (the group)."""
    labels, preds = _labels(examples), np.argmax(probs, axis=-1)
    return {"f1a": f1a(labels, preds), "em": exact_match(labels, preds, [e.group for e in examples])}


def record_metric(examples, probs):
    """ReCoRD: per query the highest-P(true) entity, scored against the gold answer texts."""
    _labels(examples)
    best = [examples[i].meta for i in best_in_groups(examples, probs).values()]
    f1 = [max_over_answers(token_f1, meta["entity"], meta["answers"]) for meta in best]
    em = [max_over_answers(text_exact_match, meta["entity"], meta["answers"]) for meta in best]
    return {"f1": float(np.mean(f1)) if f1 else 0.0, "em": float(np.mean(em)) if em else 0.0}
