"""Batched Keras inference on raw texts, padded per batch (dynamic length)."""

import numpy as np

from fastformers_tf.backend import tf
from fastformers_tf.models.classifier import TextClassifier
from fastformers_tf.models.encoder import TransformerEncoder, input_signature


class KerasPredictor:
    """Runs a `TextClassifier` or `TransformerEncoder` on texts.

    Texts are tokenized once, sorted by length and batched, and each batch is
    padded only to its own longest sequence; results come back in input order.

    Args:
        model: a `TextClassifier` (for `predict`) or `TransformerEncoder` (for
            `embed` and `zero_shot`).
        tokenizer: the model's transformers tokenizer.
        max_length: longer texts are truncated to this many tokens.
        batch_size: texts per forward pass.

    Example:
        >>> predictor = KerasPredictor(from_pretrained("all-MiniLM-L6-v2"),
        ...                            load_tokenizer("all-MiniLM-L6-v2"))
        >>> predictor.zero_shot(["The team won the final."], ["sports", "politics"])
        [('sports', 0.4...)]
    """

    def __init__(self, model, tokenizer, max_length=128, batch_size=32):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self._encoder = model.encoder if isinstance(model, TextClassifier) else model
        self._forward = tf.function(model, input_signature=input_signature(model), reduce_retracing=True)

    def _run(self, texts, output):
        """`output(model_outputs, batch) -> [b, ...]` for every text, in input order."""
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        order = np.argsort([len(x) for x in ids["input_ids"]], kind="stable")
        results = [None] * len(order)
        pad_id = self.tokenizer.pad_token_id or 0
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(len(ids["input_ids"][i]) for i in chunk)
            batch = {"token_ids": np.full((len(chunk), width), pad_id, np.int32)}
            batch["padding_mask"] = np.zeros((len(chunk), width), np.int32)
            if "segment_ids" in self.model.input:
                batch["segment_ids"] = np.zeros((len(chunk), width), np.int32)
            for row, i in enumerate(chunk):
                n = len(ids["input_ids"][i])
                batch["token_ids"][row, :n] = ids["input_ids"][i]
                batch["padding_mask"][row, :n] = 1
                if "segment_ids" in batch and "token_type_ids" in ids:
                    batch["segment_ids"][row, :n] = ids["token_type_ids"][i]
            for row, value in zip(chunk, output(self._forward(batch), batch), strict=True):
                results[row] = value
        return np.stack(results) if results else np.zeros((0,))

    def logits(self, texts):
        if not isinstance(self.model, TextClassifier):
            raise TypeError("logits() needs a TextClassifier; this predictor holds an encoder.")
        return self._run(texts, lambda logits, _: logits.numpy())

    def predict(self, texts):
        """`(label, probability)` per text; label names come from the classifier."""
        logits = self.logits(texts)
        probs = tf.nn.softmax(logits, axis=-1).numpy()
        names = self.model.labels or [str(i) for i in range(self.model.num_classes)]
        return [(names[k], float(p[k])) for k, p in zip(probs.argmax(-1), probs, strict=True)]

    def embed(self, texts):
        """Mean-pooled, L2-normalized sentence embeddings `[n, D]` (sentence-transformers style)."""
        if not isinstance(self.model, TransformerEncoder):
            raise TypeError("embed() needs a TransformerEncoder.")

        def mean_pool(outputs, batch):
            mask = batch["padding_mask"][:, :, None].astype(np.float32)
            pooled = (outputs["sequence_output"].numpy() * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

        return self._run(texts, mean_pool)

    def zero_shot(self, texts, labels, template="This is about {}."):
        """`(label, cosine similarity)` per text: the label whose description is nearest.

        Each label is embedded as `template.format(label)`; with no training
        this is as good as the encoder's sentence embeddings, no better.
        """
        descriptions = [template.format(label) for label in labels]
        similarity = self.embed(texts) @ self.embed(descriptions).T  # [n, num_labels]
        return [(labels[k], float(s[k])) for k, s in zip(similarity.argmax(-1), similarity, strict=True)]
