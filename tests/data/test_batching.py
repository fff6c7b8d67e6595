import os

import numpy as np
import pytest

from fastformers_tf.data.batching import batch_order, cached_features, pad_batch, tokenize
from fastformers_tf.data.examples import Example, Task
from tests import tiny


@pytest.fixture
def tokenizer(tmp_path):
    return tiny.tokenizer(str(tmp_path))


def test_pairs_and_spans_tokenize(tokenizer):
    examples = [
        Example("0", "the movie was great", "a film", label=1, spans=((0, 4, 9), (1, 2, 6))),
        Example("1", "soup", "the onion soup", label=0, spans=((0, 0, 4), (1, 4, 9))),
    ]
    features = tokenize(examples, tokenizer, max_length=16, num_spans=2)
    ids, segments = features.row(0)
    tokens = tokenizer.convert_ids_to_tokens(ids.tolist())
    assert tokens[:2] == ["[CLS]", "the"] and segments.tolist() == [0] * 6 + [1] * 3
    (a0, b0), (a1, b1) = features.spans[0]
    assert tokens[a0:b0] == ["movie"] and tokens[a1:b1] == ["film"]
    tokens1 = tokenizer.convert_ids_to_tokens(features.row(1)[0].tolist())
    (a0, b0), (a1, b1) = features.spans[1]
    assert tokens1[a0:b0] == ["soup"] and tokens1[a1:b1] == ["onion"]
    assert features.labels.tolist() == [1, 0]


def test_truncation_keeps_max_length_and_lost_spans_pool_cls(tokenizer):
    long = " ".join(["the movie"] * 20)
    features = tokenize([Example("0", long, spans=((0, len(long) - 5, len(long)),))], tokenizer, 8, num_spans=1)
    assert features.lengths.tolist() == [8]
    assert features.spans[0, 0].tolist() == [0, 1]


def test_batches_pad_to_their_own_longest(tokenizer):
    texts = ["the", "the movie was great and good", "a", "bad", "the game the vote the law"]
    labels = [1, 0, 0, 1, 1]
    examples = [Example(str(i), text, label=label) for i, (text, label) in enumerate(zip(texts, labels, strict=True))]
    features = tokenize(examples, tokenizer, 32)
    widths = []
    seen = []
    for indices in batch_order(features.lengths, batch_size=2, bucket_window=10):
        inputs = pad_batch(features, indices)
        widths.append(inputs["token_ids"].shape[1])
        assert inputs["token_ids"].shape[1] == features.lengths[indices].max()
        assert (inputs["padding_mask"].sum(1) == features.lengths[indices]).all()
        assert (inputs["token_ids"][inputs["padding_mask"] == 0] == 0).all()
        for row, i in enumerate(indices):  # each row holds example i's tokens and label
            expected = tokenizer(texts[i])["input_ids"]
            assert inputs["token_ids"][row, : len(expected)].tolist() == expected
        assert features.labels[indices].tolist() == [labels[i] for i in indices]
        seen += indices.tolist()
    assert sorted(seen) == list(range(5))
    assert widths == sorted(widths)  # one window: sorted by length, short batches pad little


def test_bucketing_sorts_within_windows_and_shuffles_reproducibly():
    lengths = np.array([9, 1, 8, 2, 7, 3, 6, 4, 5, 10, 12, 11])
    order = batch_order(lengths, batch_size=2, bucket_window=2)  # windows of 4 examples
    assert [lengths[b].tolist() for b in order] == [[1, 2], [8, 9], [3, 4], [6, 7], [5, 10], [11, 12]]
    a = batch_order(lengths, 2, shuffle=True, bucket_window=2, seed=3)
    b = batch_order(lengths, 2, shuffle=True, bucket_window=2, seed=3)
    c = batch_order(lengths, 2, shuffle=True, bucket_window=2, seed=4)
    assert [x.tolist() for x in a] == [x.tolist() for x in b] != [x.tolist() for x in c]
    assert sorted(np.concatenate(a).tolist()) == list(range(12))


def test_span_masks_mark_span_tokens(tokenizer):
    features = tokenize([Example("0", "the movie was great", spans=((0, 4, 9), (0, 14, 19)))], tokenizer, 16, 2)
    inputs = pad_batch(features, np.array([0]))
    assert inputs["span_masks"].shape == (1, 2, 6)
    assert inputs["span_masks"][0].tolist() == [[0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0]]


def test_features_are_cached_in_memory_and_on_disk(tokenizer, tmp_path):
    data = tmp_path / "rows.txt"
    data.write_text("x")
    task = Task("toy", ("a", "b"), {"train": "rows.txt"}, read=None, formulation="classification", metric=None)
    examples = [Example("0", "the movie", label=0), Example("1", "bad film", label=1)]
    cache = str(tmp_path / "cache")
    first = cached_features(task, "train", str(data), examples, tokenizer, 16, cache)
    assert cached_features(task, "train", str(data), examples, tokenizer, 16, cache) is first
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].startswith("toy-train-16-")
    from fastformers_tf.data import batching

    batching._MEMORY.clear()
    reloaded = cached_features(task, "train", str(data), examples, tokenizer, 16, cache)
    assert reloaded is not first and (reloaded.token_ids == first.token_ids).all()
    data.write_text("changed file, new fingerprint")
    cached_features(task, "train", str(data), examples, tokenizer, 16, cache)
    assert len(os.listdir(cache)) == 2
