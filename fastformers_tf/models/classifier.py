"""`TextClassifier`: an encoder with a pooled-representation classification head."""

from fastformers_tf.backend import keras, tf
from fastformers_tf.models.config import truncated_normal
from fastformers_tf.models.task_model import TaskModel

POOLINGS = ("pooler", "cls", "mean")


@keras.saving.register_keras_serializable(package="fastformers_tf")
class TextClassifier(TaskModel):
    """Encoder -> pooled `[B, D]` -> dropout -> Dense logits `[B, num_classes]`.

    Args:
        encoder: a `TransformerEncoder`.
        num_classes: number of labels (1 for regression).
        pooling: "pooler" (BERT's tanh Dense over the first token), "cls" (the
            first token's hidden state) or "mean" (mask-weighted mean over
            tokens, as sentence-transformers pool).
        dropout: dropout rate before the output layer.
        labels: optional label names, index-aligned with the logits.

    Takes the encoder's input dict and returns logits, so it trains with
    `model.fit` and a `from_logits=True` loss.

    Example:
        >>> model = TextClassifier(encoder, num_classes=2, labels=["no", "yes"])
        >>> model(encoder.dummy_inputs()).shape
        TensorShape([2, 2])
    """

    def __init__(self, encoder, num_classes, pooling="pooler", dropout=0.1, labels=None, **kwargs):
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}; expected one of {POOLINGS}.")
        if labels is not None and len(labels) != num_classes:
            raise ValueError(f"{len(labels)} label names given for num_classes={num_classes}.")

        # === Layers ===
        dropout_layer = keras.layers.Dropout(dropout)
        output_dense = keras.layers.Dense(
            num_classes, kernel_initializer=truncated_normal(encoder.config.initializer_range), name="logits"
        )

        # === Functional Model ===
        inputs = encoder.input
        outputs = encoder(inputs)
        if pooling == "pooler":
            pooled = outputs["pooled_output"]
        elif pooling == "cls":
            pooled = outputs["sequence_output"][:, 0, :]
        else:
            # expand_dims, not [:, :, None]: TFLite's builtin StridedSlice has no new_axis_mask.
            mask = tf.expand_dims(tf.cast(inputs["padding_mask"], outputs["sequence_output"].dtype), -1)  # [B, T, 1]
            pooled = tf.reduce_sum(outputs["sequence_output"] * mask, axis=1) / tf.maximum(
                tf.reduce_sum(mask, axis=1), 1e-9
            )  # [B, D]
        logits = output_dense(dropout_layer(pooled))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.num_classes = num_classes
        self.pooling = pooling
        self.dropout = dropout
        self.labels = list(labels) if labels is not None else None
        self.output_dense = output_dense

    def _head_config(self):
        return {
            "num_classes": self.num_classes,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "labels": self.labels,
        }
