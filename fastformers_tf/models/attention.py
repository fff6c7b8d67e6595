"""Multi-head self-attention with a per-layer head count."""

import math

from fastformers_tf.backend import keras, tf
from fastformers_tf.models.config import truncated_normal as _init
from fastformers_tf.models.quant_dense import dense_factory


def padding_mask_to_attention_bias(padding_mask):
    """`[B, T]` 1/0 mask -> `[B, 1, 1, T]` additive bias (0 keep, -10000 drop).

    Written exactly as `(1 - cast(expand_dims(expand_dims(mask, 1), 1))) * -10000`:
    onnxruntime's `bert_keras` attention fusion matches this subgraph.
    """
    mask = tf.cast(tf.expand_dims(tf.expand_dims(padding_mask, 1), 1), tf.float32)  # [B, 1, 1, T]
    return (1.0 - mask) * -10000.0


@keras.saving.register_keras_serializable(package="fastformers_tf")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Scaled dot-product self-attention and its output projection.

    Laid out like BERT (separate `query`/`key`/`value` Dense layers, scores
    divided by sqrt(head_dim), mask bias added last before the softmax) so that
    the exported graph fuses into one onnxruntime `Attention` node.

    Args:
        num_heads: N for this layer. With 0 the layer holds only the output
            bias (and empty kernels), which `TransformerEncoderLayer` adds.
        head_dim: H.
        hidden_dim: D.
        attention_dropout: dropout on the attention probabilities.
        initializer_range: stddev of the kernel initializer.
        quantize: `QuantDense` projections (quantization-aware training).

    Call args: `x` `[B, T, D]`, `attention_bias` `[B, 1, 1, T]`, optional
    `position_bias` `[1 or B, N, T, T]`, optional `head_mask` `[B, N]` that
    multiplies each head's probabilities (importance scores take its gradient).
    Returns `(output [B, T, D], probabilities [B, N, T, T])`.

    Example:
        >>> attention = MultiHeadSelfAttention(3, 8, 32, 0.0)
        >>> out, probs = attention(tf.ones((2, 5, 32)), tf.zeros((2, 1, 1, 5)))
        >>> out.shape, probs.shape
        (TensorShape([2, 5, 32]), TensorShape([2, 3, 5, 5]))
    """

    def __init__(
        self, num_heads, head_dim, hidden_dim, attention_dropout, initializer_range=0.02, quantize=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.hidden_dim = hidden_dim
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.quantize = quantize
        width = num_heads * head_dim
        Dense = dense_factory(quantize)
        self.query = Dense(width, kernel_initializer=_init(initializer_range), name="query")
        self.key = Dense(width, kernel_initializer=_init(initializer_range), name="key")
        self.value = Dense(width, kernel_initializer=_init(initializer_range), name="value")
        self.output_dense = Dense(hidden_dim, residual=True, kernel_initializer=_init(initializer_range), name="output")
        self.dropout = keras.layers.Dropout(attention_dropout)

    def build(self, input_shape=None):
        # Built explicitly so that a zero-head layer, which never calls them,
        # still has the same (empty) weights to save, load and prune.
        for dense in (self.query, self.key, self.value):
            dense.build((None, None, self.hidden_dim))
        self.output_dense.build((None, None, self.num_heads * self.head_dim))
        super().build(input_shape)

    def _split_heads(self, x, batch_size, seq_len):
        # The head axis is left to -1 on purpose: a literal N=1 lets tf2onnx
        # turn the transpose into a reshape, which onnxruntime cannot fuse.
        x = tf.reshape(x, (batch_size, seq_len, -1, self.head_dim))  # [B, T, N, H]
        return tf.transpose(x, perm=[0, 2, 1, 3])  # [B, N, T, H]

    def call(self, x, attention_bias, position_bias=None, head_mask=None, training=None):
        if self.num_heads == 0:
            raise ValueError("A zero-head attention has nothing to compute; its layer adds the output bias alone.")
        batch_size, seq_len = tf.shape(x)[0], tf.shape(x)[1]
        q = self._split_heads(self.query(x), batch_size, seq_len)  # [B, N, T, H]
        k = self._split_heads(self.key(x), batch_size, seq_len)  # [B, N, T, H]
        v = self._split_heads(self.value(x), batch_size, seq_len)  # [B, N, T, H]
        scores = tf.matmul(q, k, transpose_b=True)  # [B, N, T, T]
        scores = tf.divide(scores, math.sqrt(self.head_dim))
        if position_bias is not None:
            scores = scores + position_bias
        scores = scores + attention_bias
        probs = tf.nn.softmax(scores, axis=-1)  # [B, N, T, T]
        dropped = self.dropout(probs, training=training)
        if head_mask is not None:
            dropped = dropped * head_mask[:, :, None, None]
        context = tf.matmul(dropped, v)  # [B, N, T, H]
        context = tf.transpose(context, perm=[0, 2, 1, 3])  # [B, T, N, H]
        context = tf.reshape(context, (batch_size, -1, self.num_heads * self.head_dim))  # [B, T, N*H]
        return self.output_dense(context), probs

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            hidden_dim=self.hidden_dim,
            attention_dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
            quantize=self.quantize,
        )
        return config
