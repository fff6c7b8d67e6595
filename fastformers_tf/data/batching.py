"""Tokenize a split once, then batch it padded to each batch's own longest sequence.

Tokenized features are cached in memory and on disk, keyed by the tokenizer,
task, split, maximum length and the data file's size and modification time.
"""

import dataclasses
import hashlib
import io
import json
import logging
import os

import numpy as np

from fastformers_tf.artifacts import write_bytes

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Features:
    """A tokenized split: ragged int32 rows stored flat, plus labels.

    Args:
        token_ids: all examples' token ids, concatenated.
        segment_ids: matching segment ids.
        offsets: `[n + 1]` row boundaries into the flat arrays.
        labels: `[n]` label indices, -1 where unlabeled.
        spans: `[n, S, 2]` token `[start, end)` of each pooled span (S may be 0).
    """

    token_ids: np.ndarray
    segment_ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    spans: np.ndarray

    def __len__(self):
        return len(self.offsets) - 1

    @property
    def lengths(self):
        return np.diff(self.offsets)

    def subset(self, indices):
        """The rows at `indices`, in that order."""
        rows = [self.row(i) for i in indices]
        lengths = [len(ids) for ids, _ in rows]
        return Features(
            token_ids=np.concatenate([ids for ids, _ in rows]) if rows else self.token_ids[:0],
            segment_ids=np.concatenate([seg for _, seg in rows]) if rows else self.segment_ids[:0],
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            labels=self.labels[indices],
            spans=self.spans[indices],
        )

    @classmethod
    def concat(cls, parts):
        """The rows of `parts`, one after the other (their spans must have the same width)."""
        shifts = np.cumsum([0] + [len(p.token_ids) for p in parts[:-1]])
        return cls(
            token_ids=np.concatenate([p.token_ids for p in parts]),
            segment_ids=np.concatenate([p.segment_ids for p in parts]),
            offsets=np.concatenate([[0]] + [p.offsets[1:] + s for p, s in zip(parts, shifts, strict=True)]).astype(
                np.int64
            ),
            labels=np.concatenate([p.labels for p in parts]),
            spans=np.concatenate([p.spans for p in parts]),
        )

    def row(self, i):
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.token_ids[a:b], self.segment_ids[a:b]


def _token_span(encoding, segment, start, end):
    """Token [first, last+1) covering characters [start, end) of a segment; (0, 1) = [CLS] if truncated away."""
    tokens = [
        t
        for t, (seq, (a, b)) in enumerate(zip(encoding.sequence_ids, encoding.offsets, strict=True))
        if seq == segment and a < end and b > start and b > a
    ]
    return (tokens[0], tokens[-1] + 1) if tokens else (0, 1)


def tokenize(examples, tokenizer, max_length, num_spans=0):
    """`Features` for `examples`; pairs are truncated from the longer text first."""
    pairs = any(e.text_b is not None for e in examples)
    texts = [e.text_a for e in examples]
    kwargs = dict(truncation="longest_first" if pairs else True, max_length=max_length, return_token_type_ids=True)
    if pairs:
        encoded = tokenizer(texts, [e.text_b or "" for e in examples], **kwargs)
    else:
        encoded = tokenizer(texts, **kwargs)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    spans = np.zeros((len(examples), num_spans, 2), np.int32)
    lost = 0
    for i, example in enumerate(examples):
        for s, (segment, start, end) in enumerate(example.spans[:num_spans]):
            spans[i, s] = _token_span(encoded.encodings[i], segment, start, end)
            lost += tuple(spans[i, s]) == (0, 1)
    if lost:
        logger.warning("%d spans fell outside max_length=%d and pool the [CLS] token instead.", lost, max_length)
    return Features(
        token_ids=np.concatenate([np.asarray(x, np.int32) for x in encoded["input_ids"]]),
        segment_ids=np.concatenate([np.asarray(x, np.int32) for x in encoded["token_type_ids"]]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        labels=np.array([-1 if e.label is None else e.label for e in examples], np.int32),
        spans=spans,
    )


def fingerprint(path):
    stat = os.stat(path)
    return f"{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"


_MEMORY = {}


def cached_features(task, split, path, examples, tokenizer, max_length, cache_dir=None):
    """`tokenize(...)` cached per (tokenizer, task, split, max_length, data file version)."""
    key_text = json.dumps(
        [
            type(tokenizer).__name__,
            tokenizer.name_or_path,
            len(tokenizer),
            task.name,
            split,
            max_length,
            fingerprint(path),
        ]
    )
    key = hashlib.sha1(key_text.encode()).hexdigest()[:16]
    if key in _MEMORY:
        return _MEMORY[key]
    file = os.path.join(cache_dir, f"{task.name}-{split}-{max_length}-{key}.npz") if cache_dir else None
    if file and os.path.isfile(file):
        with np.load(file) as data:
            features = Features(**{f.name: data[f.name] for f in dataclasses.fields(Features)})
    else:
        features = tokenize(examples, tokenizer, max_length, task.num_spans)
        if file:
            buffer = io.BytesIO()
            np.savez(buffer, **dataclasses.asdict(features))
            write_bytes(file, buffer.getvalue())  # a temporary name of its own: workers may share the cache
    if len(features) != len(examples):
        raise ValueError(f"Cached features {file} hold {len(features)} rows for {len(examples)} examples.")
    _MEMORY[key] = features
    return features


# Sorts a whole input by length before batching (see `batch_order`).
SORT_ALL = 10**9


def batch_order(lengths, batch_size, shuffle=False, bucket_window=0, seed=0):
    """Index lists, one per batch.

    With `bucket_window > 0`, indices are (shuffled, then) cut into windows of
    `bucket_window * batch_size` and sorted by length inside each window, so a
    batch holds similar lengths and pads little; batch order is then shuffled.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    if bucket_window:
        window = bucket_window * batch_size
        order = (
            np.concatenate(
                [
                    chunk[np.argsort(lengths[chunk], kind="stable")]
                    for chunk in np.split(order, range(window, len(order), window))
                ]
            )
            if len(order)
            else order
        )
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def pad_batch(features, indices, pad_id=0, with_segments=True, pad_to=None):
    """Model inputs for `indices`, padded to the batch's longest row (or to `pad_to`)."""
    width = (
        int(features.lengths[indices].max()) if pad_to is None else max(pad_to, int(features.lengths[indices].max()))
    )
    token_ids = np.full((len(indices), width), pad_id, np.int32)
    segment_ids = np.zeros((len(indices), width), np.int32)
    padding_mask = np.zeros((len(indices), width), np.int32)
    for row, i in enumerate(indices):
        ids, segments = features.row(i)
        token_ids[row, : len(ids)] = ids
        segment_ids[row, : len(ids)] = segments
        padding_mask[row, : len(ids)] = 1
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
    if with_segments:
        inputs["segment_ids"] = segment_ids
    if features.spans.shape[1]:
        positions = np.arange(width)[None, None, :]  # [1, 1, T]
        spans = features.spans[indices]  # [B, S, 2]
        inputs["span_masks"] = ((positions >= spans[..., :1]) & (positions < spans[..., 1:])).astype(np.float32)
    return inputs


def padded_batches(features, input_names, pad_id=0, batch_size=32, pad_to=None, rows=None, by_length=True):
    """`(rows, inputs)` per batch over `rows` (default all), each padded to its longest row (or to `pad_to`).

    Rows are sorted by length first when `by_length`, else batched in order.
    `inputs` holds only the `input_names` the model takes (of `token_ids`,
    `segment_ids`, `padding_mask`, `span_masks`).
    """
    rows = np.arange(len(features)) if rows is None else np.asarray(rows)
    order = batch_order(features.lengths[rows], batch_size, bucket_window=SORT_ALL if by_length else 0)
    with_segments = "segment_ids" in input_names
    result = []
    for positions in order:
        indices = rows[positions]
        inputs = pad_batch(features, indices, pad_id, with_segments, pad_to=pad_to)
        result.append((indices, {k: v for k, v in inputs.items() if k in input_names}))
    return result


def softmax(logits, axis=-1):
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)
