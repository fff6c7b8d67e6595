"""`Predictor`: what every inference backend shares, in numpy and the tokenizer only.

Texts are tokenized once, sorted by length and batched, each batch is padded to
its own longest sequence, and results come back in input order. A backend only
runs one padded batch (`forward`). Nothing here imports TensorFlow, so the ONNX
Runtime and LiteRT predictors serve without it.
"""

import contextlib
import os

import numpy as np

from fastformers_tf.data.batching import Features, padded_batches, softmax, tokenize
from fastformers_tf.data.examples import Example
from fastformers_tf.errors import ArgumentError, UserError, check_positive

DEFAULT_MAX_LENGTH = 128


class ModelFileError(UserError, ValueError):
    """An exported model file that its runtime cannot read (truncated, or not a model)."""


@contextlib.contextmanager
def unreadable_model(path, what):
    """Turns a runtime's error on opening `path` into one that names the file."""
    try:
        yield
    except (FileNotFoundError, ModelFileError):
        raise
    except Exception as e:  # onnxruntime and LiteRT raise their own exception types
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file.") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{path}: cannot be read as {what} ({first}).") from e


class Predictor:
    """Batched inference on texts over one backend (Keras, ONNX Runtime, TFLite).

    A subclass sets `input_names` and `output_names` and implements
    `forward(inputs) -> {output name: array}` for one padded batch, whose
    inputs are `token_ids`, `padding_mask` and, when the model takes them,
    `segment_ids` and `span_masks` (int32, int32, int32, float32). Classifiers
    output `logits` `[B, C]`; encoders `sequence_output` `[B, T, D]` and
    `pooled_output` `[B, D]`.

    Args:
        tokenizer: the model's transformers tokenizer (None: only
            `logits_of` on already tokenized features works).
        labels: label names, index-aligned with the logits (None: "0", "1", ...).
        max_length: longer texts are truncated to this many tokens (None: 128,
            or the model's `max_tokens` when lower).
        batch_size: texts per forward pass.
        max_tokens: the longest input the model takes (its position table);
            a larger `max_length` is refused here, not deep in a runtime.

    Example:
        >>> predictor = load_predictor("runs/rte/export", backend="onnx", precision="int8")
        >>> predictor.predict([("A man sleeps.", "Nobody sleeps.")])
        [('not_entailment', 0.9...)]
    """

    input_names = ()
    output_names = ()

    def __init__(self, tokenizer=None, labels=None, max_length=None, batch_size=32, max_tokens=None):
        if max_length is None:
            max_length = min(DEFAULT_MAX_LENGTH, max_tokens or DEFAULT_MAX_LENGTH)
        check_positive("max_length", max_length)
        check_positive("batch_size", batch_size)
        if max_tokens is not None and max_length > max_tokens:
            raise ArgumentError(
                f"max_length={max_length} exceeds the {max_tokens} tokens this model's position table covers."
            )
        self.tokenizer = tokenizer
        self.labels = list(labels) if labels is not None else None
        self.max_length = max_length
        self.batch_size = batch_size

    # === Backend ===

    def forward(self, inputs):
        """`{output name: array}` for one padded batch (a dict of numpy arrays)."""
        raise NotImplementedError

    def forward_batches(self, batches):
        """Outputs of each batch, in order (the multi-instance predictor runs them in parallel)."""
        return map(self.forward, batches)

    def close(self):
        """Releases what the backend holds (worker processes); a no-op for in-process backends."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # === Batching ===

    @property
    def pad_id(self):
        return (self.tokenizer.pad_token_id or 0) if self.tokenizer is not None else 0

    def tokenize(self, texts, text_pairs=None):
        """`Features` for `texts` (and second texts `text_pairs`, for pair tasks)."""
        if self.tokenizer is None:
            raise ValueError("This predictor has no tokenizer; pass one, or give tokenized features to logits_of().")
        if text_pairs is not None and len(text_pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(text_pairs)} text_pairs.")
        if not len(texts):
            empty = np.zeros((0,), np.int32)
            return Features(empty, empty, np.zeros((1,), np.int64), empty, np.zeros((0, 0, 2), np.int32))
        examples = [
            Example(guid=str(i), text_a=text, text_b=None if text_pairs is None else text_pairs[i])
            for i, text in enumerate(texts)
        ]
        return tokenize(examples, self.tokenizer, self.max_length)

    def map_batches(self, features, output, pad_id=None, batch_size=None, progress=None):
        """`output(outputs, batch) -> [b, ...]` for every row of `features`, stacked in row order.

        Args:
            features: tokenized rows (`fastformers_tf.data.batching.Features`).
            output: maps one batch's outputs (and its inputs) to per-row results.
            pad_id: padding token id (default: the tokenizer's).
            batch_size: rows per forward pass (default: the predictor's).
            progress: a description to show a progress bar under, or None.
        """
        pad_id = self.pad_id if pad_id is None else pad_id
        batched = padded_batches(features, self.input_names, pad_id, batch_size or self.batch_size)
        batches = [inputs for _, inputs in batched]
        outputs = self.forward_batches(batches)
        if progress:
            from fastformers_tf.progress import bar

            outputs = bar(outputs, total=len(batches), desc=progress, leave=False)
        results = [None] * len(features)
        for (rows, batch), batch_outputs in zip(batched, outputs, strict=True):
            for row, value in zip(rows, output(batch_outputs, batch), strict=True):
                results[row] = value
        return np.stack(results) if results else np.zeros((0,), np.float32)

    # === Tasks ===

    def _require(self, output_name, method):
        if output_name not in self.output_names:
            raise TypeError(
                f"{method}() needs a model with a {output_name!r} output; this one has {self.output_names}."
            )

    def logits_of(self, features, pad_id=None, batch_size=None, progress=None):
        """Logits `[n, C]` for tokenized `features`, in row order."""
        self._require("logits", "logits_of")
        return self.map_batches(features, lambda outputs, _: outputs["logits"], pad_id, batch_size, progress)

    def logits(self, texts, text_pairs=None):
        """Logits `[n, C]` for texts (or text pairs), in input order."""
        self._require("logits", "logits")
        return self.logits_of(self.tokenize(texts, text_pairs))

    def predict(self, texts, text_pairs=None):
        """`(label, probability)` per text."""
        return [(label, probs[label]) for label, probs in self.classify(texts, text_pairs)]

    def classify(self, texts, text_pairs=None):
        """`(label, {label: probability})` per text: the top label and every label's probability."""
        probs = softmax(np.asarray(self.logits(texts, text_pairs), np.float32))  # [n, C]
        names = self.labels or [str(i) for i in range(probs.shape[-1])]
        return [(names[int(p.argmax())], dict(zip(names, map(float, p), strict=True))) for p in probs]

    def embed(self, texts):
        """Mean-pooled, L2-normalized sentence embeddings `[n, D]` (sentence-transformers style)."""
        self._require("sequence_output", "embed")

        def mean_pool(outputs, batch):
            mask = batch["padding_mask"][:, :, None].astype(np.float32)  # [B, T, 1]
            pooled = (outputs["sequence_output"] * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)  # [B, D]
            return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

        return self.map_batches(self.tokenize(texts), mean_pool)

    def zero_shot(self, texts, labels, template="This is about {}."):
        """`(label, cosine similarity)` per text: the label whose description is nearest.

        Each label is embedded as `template.format(label)`; with no training
        this is as good as the encoder's sentence embeddings, no better.
        """
        descriptions = [template.format(label) for label in labels]
        similarity = self.embed(texts) @ self.embed(descriptions).T  # [n, num_labels]
        return [(labels[k], float(s[k])) for k, s in zip(similarity.argmax(-1), similarity, strict=True)]
