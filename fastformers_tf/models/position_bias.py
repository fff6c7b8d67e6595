"""MPNet's bucketed relative position bias, one table shared by all layers."""

import math

import numpy as np

from fastformers_tf.backend import keras, tf
from fastformers_tf.models.config import truncated_normal as _init


def relative_position_buckets(max_sequence_length, num_buckets, max_distance):
    """Bucket of every relative position -(P-1)..P-1, as MPNet/T5 define it.

    Computed once in numpy rather than in the graph: the table is exact (the
    float32 and float64 logs give the same buckets for every distance below
    600) and the exported graph needs only a Gather, no Log.
    """
    relative = np.arange(-(max_sequence_length - 1), max_sequence_length)
    n = -relative
    half = num_buckets // 2
    buckets = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    scaled = np.log(np.maximum(n, 1) / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)
    large = np.minimum(max_exact + scaled.astype(np.int64), half - 1)
    return (buckets + np.where(n < max_exact, n, large)).astype(np.int32)


@keras.saving.register_keras_serializable(package="fastformers_tf")
class RelativePositionBias(keras.layers.Layer):
    """Attention score bias from bucketed relative positions.

    Args:
        num_buckets: rows of the bias table.
        num_heads: columns of the bias table (the unpruned head count).
        max_distance: distance at which buckets stop growing.
        max_sequence_length: longest sequence the bucket table covers.
        initializer_range: stddev of the table initializer.

    Call returns the bias for all heads, `[1, num_heads, T, T]`; each layer
    gathers the columns of the heads it kept.

    Example:
        >>> bias = RelativePositionBias(32, 4, 128, 64)
        >>> bias(tf.zeros((2, 7), tf.int32)).shape
        TensorShape([1, 4, 7, 7])
    """

    def __init__(self, num_buckets, num_heads, max_distance, max_sequence_length, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_buckets = num_buckets
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.max_sequence_length = max_sequence_length
        self.initializer_range = initializer_range
        self._buckets = relative_position_buckets(max_sequence_length, num_buckets, max_distance)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.num_buckets, self.num_heads),
            initializer=_init(self.initializer_range),
        )
        super().build(input_shape)

    def call(self, token_ids):
        seq_len = tf.shape(token_ids)[1]
        positions = tf.range(seq_len)
        relative = positions[None, :] - positions[:, None]  # [T, T]: key position - query position
        buckets = tf.gather(tf.constant(self._buckets), relative + (self.max_sequence_length - 1))  # [T, T]
        values = tf.gather(self.embeddings, buckets)  # [T, T, N]
        return tf.expand_dims(tf.transpose(values, [2, 0, 1]), 0)  # [1, N, T, T]

    def get_config(self):
        config = super().get_config()
        config.update(
            num_buckets=self.num_buckets,
            num_heads=self.num_heads,
            max_distance=self.max_distance,
            max_sequence_length=self.max_sequence_length,
            initializer_range=self.initializer_range,
        )
        return config
