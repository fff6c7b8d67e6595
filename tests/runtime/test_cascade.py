"""`CascadePredictor`: thresholds 0 and above 1, exactly the unsure rows moving on, input order, label sets."""

import numpy as np
import pytest

from fastformers_tf.data.batching import softmax
from fastformers_tf.errors import ArgumentError
from fastformers_tf.runtime import KerasPredictor, load_predictor
from fastformers_tf.runtime.cascade import CascadePredictor, margin, max_prob
from tests import tiny

LABELS = ["x", "y", "z"]
# Mixed lengths, so that each stage's length-sorted batches differ from the input order.
TEXTS = [
    "the movie",
    "a good film won the game and the vote",
    "bad",
    "onion soup",
    "the team lost the game after a bad law bill",
    "great",
    "cook the soup with a good onion",
    "awful film",
    "won",
]


class Counting:
    """A predictor wrapper that records the texts each call received."""

    def __init__(self, predictor):
        self.predictor, self.calls = predictor, []
        self.labels, self.batch_size = predictor.labels, predictor.batch_size
        self.tokenizer, self.max_length = predictor.tokenizer, predictor.max_length

    def logits(self, texts, text_pairs=None):
        self.calls.append(list(texts))
        return self.predictor.logits(texts, text_pairs)

    def close(self):
        self.predictor.close()


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    tokenizer = tiny.tokenizer(str(tmp_path_factory.mktemp("vocab")))
    fast = KerasPredictor(tiny.classifier(labels=LABELS, seed=0), tokenizer, batch_size=4)
    slow = KerasPredictor(tiny.classifier(labels=LABELS, seed=7), tokenizer, batch_size=4)
    return fast, slow


def test_thresholds_zero_and_above_one_give_the_first_and_the_last_model(stages):
    fast, slow = stages
    only_fast = CascadePredictor([fast, slow], [0.0])
    np.testing.assert_allclose(only_fast.logits(TEXTS), fast.logits(TEXTS), atol=1e-6)
    assert only_fast.answered == [len(TEXTS), 0]
    only_slow = CascadePredictor([fast, slow], [1.01])
    logits, stage = only_slow.answer(TEXTS)
    np.testing.assert_allclose(logits, slow.logits(TEXTS), atol=1e-6)
    assert stage.tolist() == [1] * len(TEXTS) and only_slow.answered == [0, len(TEXTS)]


@pytest.mark.parametrize("confidence", ["max_prob", "margin"])
def test_a_threshold_between_sends_exactly_the_rows_below_it_and_keeps_the_order(stages, confidence):
    fast, slow = stages
    measure = {"max_prob": max_prob, "margin": margin}[confidence]
    sure_fast = measure(softmax(fast.logits(TEXTS)))
    threshold = float(np.median(sure_fast))  # about half the rows move on
    unsure = sure_fast < threshold
    assert 0 < unsure.sum() < len(TEXTS)
    counted_fast, counted_slow = Counting(fast), Counting(slow)
    cascade = CascadePredictor([counted_fast, counted_slow], [threshold], confidence=confidence)
    logits, stage = cascade.answer(TEXTS)
    assert counted_fast.calls == [TEXTS]  # one call, every text, as one batch list
    assert counted_slow.calls == [[t for t, u in zip(TEXTS, unsure, strict=True) if u]]  # only the unsure, in order
    expected = np.where(unsure[:, None], slow.logits(TEXTS), fast.logits(TEXTS))
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    assert stage.tolist() == unsure.astype(int).tolist()
    assert cascade.answered == [int((~unsure).sum()), int(unsure.sum())]
    labels = [label for label, _ in cascade.predict(TEXTS)]
    assert labels == [LABELS[k] for k in expected.argmax(-1)]
    # The same rule over texts already tokenized, one Features per stage (the benchmark times it so).
    pretokenized = CascadePredictor([fast, slow], [threshold], confidence=confidence)
    features = [fast.tokenize(TEXTS), slow.tokenize(TEXTS)]
    by_features, by_features_stage = pretokenized.answer_features(features, batch_size=3)
    np.testing.assert_allclose(by_features, logits, atol=1e-5)
    assert by_features_stage.tolist() == stage.tolist()


def test_three_stages_and_an_onnx_stage(stages, tiny_export):
    fast, slow = stages
    onnx = load_predictor(tiny_export.directory, backend="onnx", batch_size=3)
    cascade = CascadePredictor([onnx, fast, slow], [0.5, 0.9])
    logits, stage = cascade.answer(TEXTS)
    p0, p1 = max_prob(softmax(onnx.logits(TEXTS))), max_prob(softmax(fast.logits(TEXTS)))
    expected_stage = np.where(p0 >= 0.5, 0, np.where(p1 >= 0.9, 1, 2))
    assert stage.tolist() == expected_stage.tolist()
    by_stage = [onnx.logits(TEXTS), fast.logits(TEXTS), slow.logits(TEXTS)]
    np.testing.assert_allclose(logits, np.choose(expected_stage[:, None], by_stage), atol=1e-4)
    assert cascade.logits([]).shape[0] == 0


def test_bad_cascades_are_refused_in_one_line(stages, tmp_path):
    fast, slow = stages
    other = KerasPredictor(tiny.classifier(labels=["a", "b", "c"], seed=1), tiny.tokenizer(str(tmp_path)))
    with pytest.raises(ArgumentError, match="different label sets"):
        CascadePredictor([fast, other], [0.5])
    with pytest.raises(ArgumentError, match="takes 1 threshold"):
        CascadePredictor([fast, slow], [0.5, 0.7])
    with pytest.raises(ArgumentError, match="two or more stages"):
        CascadePredictor([fast], [])
    with pytest.raises(ArgumentError, match="Unknown confidence 'entropy'"):
        CascadePredictor([fast, slow], [0.5], confidence="entropy")
    with pytest.raises(TypeError, match="give texts"):
        CascadePredictor([fast, slow], [0.5]).logits_of(None)
