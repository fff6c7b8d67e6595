import numpy as np
import pytest

from fastformers_tf.backend import keras
from fastformers_tf.models import TextClassifier, from_pretrained, load_tokenizer
from fastformers_tf.runtime import KerasPredictor
from tests import tiny

TEXTS = ["the movie was great", "bad", "the team won the game the team lost the game", "soup", "a good film", "vote"]


def test_batches_padded_per_batch_give_per_text_results_in_input_order(tmp_path):
    model = TextClassifier(tiny.randomize(tiny.encoder()), num_classes=3, labels=["x", "y", "z"])
    tok = tiny.tokenizer(str(tmp_path))
    predictor = KerasPredictor(model, tok, batch_size=4)
    batched = predictor.logits(TEXTS)
    unpadded = []  # the model itself on each text alone, tokenized by the tokenizer: no batching, no padding
    for text in TEXTS:
        ids = tok([text], return_tensors="np")
        names = {"token_ids": "input_ids", "segment_ids": "token_type_ids", "padding_mask": "attention_mask"}
        unpadded.append(model({k: ids[v].astype("int32") for k, v in names.items()}).numpy())
    np.testing.assert_allclose(batched, np.concatenate(unpadded), atol=1e-5)
    assert len({tuple(np.round(r, 4)) for r in batched}) == len(TEXTS)  # distinct texts, distinct rows
    labels = predictor.predict(TEXTS)
    assert [label for label, _ in labels] == [model.labels[k] for k in batched.argmax(-1)]
    probs = np.exp(batched) / np.exp(batched).sum(-1, keepdims=True)
    np.testing.assert_allclose([p for _, p in labels], probs.max(-1), rtol=1e-5)


def test_classifier_trains_with_fit(tmp_path):
    tok = tiny.tokenizer(str(tmp_path))
    texts = [
        "great movie",
        "good film",
        "great film",
        "good movie",
        "bad movie",
        "awful film",
        "bad film",
        "awful movie",
    ]
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    batch = tok(texts, padding=True, return_tensors="np")
    inputs = {
        "token_ids": batch["input_ids"].astype("int32"),
        "segment_ids": batch["token_type_ids"].astype("int32"),
        "padding_mask": batch["attention_mask"].astype("int32"),
    }
    model = TextClassifier(tiny.encoder(dropout=0.0, attention_dropout=0.0), num_classes=2, dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(inputs, labels, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] == 1.0


@pytest.mark.slow
def test_minilm_zero_shot_on_obvious_texts():
    predictor = KerasPredictor(from_pretrained("all-MiniLM-L6-v2"), load_tokenizer("all-MiniLM-L6-v2"))
    texts = {
        "The team won the championship game.": "sports",
        "Parliament passed the new budget bill last night.": "politics",
        "The new phone has a faster chip and better camera.": "technology",
        "Simmer the onions in butter until golden.": "cooking",
    }
    got = predictor.zero_shot(list(texts), ["sports", "politics", "technology", "cooking"])
    assert [label for label, _ in got] == list(texts.values())
