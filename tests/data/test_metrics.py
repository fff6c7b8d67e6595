"""Metrics against hand-computed values, and candidate decoding per group."""

import numpy as np
import pytest

from fastformers_tf.data import (
    Example,
    accuracy,
    exact_match,
    f1_binary,
    f1a,
    macro_f1,
    matthews_corrcoef,
    max_over_answers,
    normalize_answer,
    text_exact_match,
    token_f1,
)
from fastformers_tf.data.metrics import best_in_groups, classification_metric, multirc_metric, record_metric


def test_accuracy():
    assert accuracy([0, 1, 1, 2], [0, 1, 0, 2]) == 0.75
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        accuracy([0, 1], [0])


def test_f1_binary():
    # TP = 2 (items 0, 4), FP = 1 (item 2), FN = 1 (item 1): F1 = 2*2 / (2*2 + 1 + 1) = 4/6.
    assert f1_binary([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]) == pytest.approx(4 / 6)
    assert f1_binary([0, 0], [0, 0]) == 0.0  # no positives at all


def test_macro_f1_with_a_class_never_predicted():
    labels, preds = [0, 0, 1, 1, 2], [0, 0, 1, 0, 1]
    # class 0: TP 2, FP 1, FN 0 -> 4/5; class 1: TP 1, FP 1, FN 1 -> 2/4; class 2: TP 0, FN 1 -> 0.
    assert macro_f1(labels, preds) == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    # A class absent from labels and preds only counts when num_classes asks for it.
    assert macro_f1([0, 1], [0, 1]) == 1.0
    assert macro_f1([0, 1], [0, 1], num_classes=3) == pytest.approx(2 / 3)


def test_matthews_corrcoef_binary():
    labels = [1, 1, 1, 0, 0, 0, 0, 1]
    preds = [1, 1, 0, 0, 0, 1, 0, 1]
    # TP 3, TN 3, FP 1, FN 1: (3*3 - 1*1) / sqrt(4 * 4 * 4 * 4) = 8 / 16.
    assert matthews_corrcoef(labels, preds) == pytest.approx(0.5)
    assert matthews_corrcoef([0, 1, 0], [1, 1, 1]) == 0.0  # a constant prediction: undefined, reported as 0


def test_matthews_corrcoef_multiclass():
    # Confusion rows (true) [[2,0,0],[0,0,1],[0,0,1]]: true sums t = (2,1,1), predicted p = (2,0,2),
    # correct c = 3, total s = 4: (c*s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) = (12 - 6) / sqrt(8 * 10).
    assert matthews_corrcoef([0, 1, 2, 0], [0, 2, 2, 0]) == pytest.approx(6 / np.sqrt(80))


def test_multirc_exact_match_and_f1a_on_two_questions():
    groups = ["q1", "q1", "q1", "q2", "q2"]
    labels = [1, 0, 1, 0, 1]
    preds = [1, 0, 1, 1, 1]
    assert exact_match(labels, preds, groups) == 0.5  # q1 all right, q2 has one answer wrong
    # Over all answers: TP 3, FP 1, FN 0 -> 6 / 7.
    assert f1a(labels, preds) == pytest.approx(6 / 7)


def test_record_normalization_and_max_over_answers():
    assert normalize_answer("  The Eiffel   Tower! ") == "eiffel tower"
    assert text_exact_match("An apple.", "apple") == 1.0
    assert text_exact_match("apples", "apple") == 0.0
    # Tokens [eiffel, tower, in, paris] vs [eiffel, tower]: P = 2/4, R = 2/2, F1 = 2/3.
    assert token_f1("the Eiffel Tower in Paris", "Eiffel Tower") == pytest.approx(2 / 3)
    assert max_over_answers(token_f1, "the Eiffel Tower in Paris", ["Paris", "Eiffel Tower"]) == pytest.approx(2 / 3)
    assert max_over_answers(text_exact_match, "the U.S.", ["US", "United States"]) == 1.0
    assert max_over_answers(token_f1, "x", []) == 0.0


def candidates(groups, labels, meta=None):
    meta = meta or [{} for _ in groups]
    return [
        Example(f"e{i}", "a", "b", label, group=g, meta=m)
        for i, (g, label, m) in enumerate(zip(groups, labels, meta, strict=True))
    ]


def test_best_in_groups_picks_the_highest_p_true_per_group_in_first_seen_order():
    examples = candidates(["b", "a", "b", "a"], [0, 1, 1, 0])
    probs = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.7, 0.3]])
    # Group "a": P(true) 0.4 vs 0.3 -> example 1, although neither is above 0.5.
    assert best_in_groups(examples, probs) == {"b": 2, "a": 1}


def test_classification_metric_keeps_the_order_asked_for():
    examples = candidates(["g"] * 4, [1, 1, 0, 0])
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.9, 0.1]])  # preds 1, 0, 1, 0
    result = classification_metric("f1", "accuracy")(examples, probs)
    assert list(result) == ["f1", "accuracy"]
    assert result == {"f1": pytest.approx(0.5), "accuracy": 0.5}  # TP 1, FP 1, FN 1 -> 2/4
    with pytest.raises(ValueError, match="Unknown metrics"):
        classification_metric("auc")
    with pytest.raises(ValueError, match="unlabeled"):
        classification_metric("accuracy")(candidates(["g"], [None]), probs[:1])


def test_multirc_metric_groups_by_question():
    examples = candidates(["p0-q0", "p0-q0", "p0-q1"], [1, 0, 1])
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.6, 0.4]])  # preds 1, 0, 0
    # q0 right, q1 wrong -> EM 1/2; TP 1, FP 0, FN 1 -> F1a 2/3.
    assert multirc_metric(examples, probs) == {"f1a": pytest.approx(2 / 3), "em": 0.5}


def test_record_metric_scores_the_best_entity_per_query():
    answers = ["Barack Obama", "Obama"]
    meta = [
        {"idx": 0, "entity": "Obama", "answers": answers},
        {"idx": 0, "entity": "Biden", "answers": answers},
        {"idx": 1, "entity": "the White House", "answers": ["White House"]},
        {"idx": 1, "entity": "White House press", "answers": ["White House"]},
    ]
    examples = candidates(["q0", "q0", "q1", "q1"], [1, 0, 1, 0], meta)
    probs = np.array([[0.4, 0.6], [0.3, 0.7], [0.2, 0.8], [0.9, 0.1]])
    # q0 picks "Biden" (0.7): EM 0, F1 0. q1 picks "the White House": equal to "White House" after normalization.
    assert record_metric(examples, probs) == {"f1": 0.5, "em": 0.5}
