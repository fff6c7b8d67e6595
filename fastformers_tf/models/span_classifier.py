"""`SpanClassifier`: classification from pooled token spans (WiC, WSC)."""

from fastformers_tf.backend import keras, tf
from fastformers_tf.models.config import truncated_normal
from fastformers_tf.models.task_model import TaskModel


@keras.saving.register_keras_serializable(package="fastformers_tf")
class SpanClassifier(TaskModel):
    """Encoder -> [pooled first token; mean of each span] -> dropout -> Dense logits.

    Args:
        encoder: a `TransformerEncoder`.
        num_spans: S, spans per example.
        num_classes: number of labels.
        dropout: dropout rate before the output layer.
        labels: optional label names.

    Inputs: the encoder's, plus `span_masks` float32 `[B, S, T]` (1 on a
    span's tokens). Output: logits `[B, num_classes]`.

    Example:
        >>> model = SpanClassifier(encoder, num_spans=2, num_classes=2)
    """

    def __init__(self, encoder, num_spans, num_classes, dropout=0.1, labels=None, **kwargs):
        if labels is not None and len(labels) != num_classes:
            raise ValueError(f"{len(labels)} label names given for num_classes={num_classes}.")

        # === Layers ===
        dropout_layer = keras.layers.Dropout(dropout)
        output_dense = keras.layers.Dense(
            num_classes, kernel_initializer=truncated_normal(encoder.config.initializer_range), name="logits"
        )

        # === Functional Model ===
        inputs = dict(encoder.input)
        inputs["span_masks"] = keras.Input(shape=(num_spans, None), name="span_masks")
        outputs = encoder({k: v for k, v in inputs.items() if k != "span_masks"})
        sequence = outputs["sequence_output"]  # [B, T, D]
        masks = inputs["span_masks"]  # [B, S, T]
        span_sums = tf.matmul(masks, sequence)  # [B, S, D]
        spans = span_sums / tf.maximum(tf.reduce_sum(masks, axis=-1, keepdims=True), 1.0)  # [B, S, D]
        flat_spans = tf.reshape(spans, (-1, num_spans * encoder.config.hidden_dim))  # [B, S*D]
        pooled = tf.concat([outputs["pooled_output"], flat_spans], axis=-1)  # [B, (S+1)*D]
        logits = output_dense(dropout_layer(pooled))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.num_spans = num_spans
        self.num_classes = num_classes
        self.dropout = dropout
        self.labels = list(labels) if labels is not None else None
        self.output_dense = output_dense

    def _head_config(self):
        return {
            "num_spans": self.num_spans,
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "labels": self.labels,
        }
