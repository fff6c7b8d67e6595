"""One post-LayerNorm Transformer encoder block."""

from fastformers_tf.backend import keras, tf
from fastformers_tf.models.activations import get_activation
from fastformers_tf.models.attention import MultiHeadSelfAttention
from fastformers_tf.models.config import truncated_normal as _init
from fastformers_tf.models.quant_dense import dense_factory


@keras.saving.register_keras_serializable(package="fastformers_tf")
class TransformerEncoderLayer(keras.layers.Layer):
    """Self-attention and a feed-forward block, each with residual + LayerNorm.

    Args:
        num_heads: N for this layer (0 legal).
        head_dim: H.
        hidden_dim: D.
        intermediate_dim: F for this layer (0 legal: the FFN adds its bias only).
        activation: name from `fastformers_tf.models.activations.ACTIVATIONS`.
        dropout: dropout on both block outputs.
        attention_dropout: dropout on attention probabilities.
        layer_norm_epsilon: LayerNormalization epsilon.
        initializer_range: stddev of the kernel initializer.
        quantize: `QuantDense` for every GEMM (quantization-aware training).

    Call args: `x` `[B, T, D]`, `attention_bias` `[B, 1, 1, T]`, optional
    `position_bias`, `head_mask` `[B, N]`, `ffn_mask` `[B, F]` (multiplies the
    FFN activations). Returns `(x [B, T, D], attention probabilities)`.

    Example:
        >>> layer = TransformerEncoderLayer(2, 8, 32, 37, "gelu", 0.0, 0.0, 1e-12)
        >>> layer(tf.ones((1, 4, 32)), tf.zeros((1, 1, 1, 4)))[0].shape
        TensorShape([1, 4, 32])
    """

    def __init__(
        self,
        num_heads,
        head_dim,
        hidden_dim,
        intermediate_dim,
        activation,
        dropout,
        attention_dropout,
        layer_norm_epsilon,
        initializer_range=0.02,
        quantize=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.dropout_rate = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.quantize = quantize
        self._activation_fn = get_activation(activation)
        self.attention = MultiHeadSelfAttention(
            num_heads, head_dim, hidden_dim, attention_dropout, initializer_range, quantize, name="attention"
        )
        Dense = dense_factory(quantize)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="attention_norm")
        self.intermediate = Dense(intermediate_dim, kernel_initializer=_init(initializer_range), name="intermediate")
        self.output_dense = Dense(hidden_dim, residual=True, kernel_initializer=_init(initializer_range), name="output")
        self.output_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="output_norm")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        hidden_shape = (None, None, self.hidden_dim)
        self.attention.build(hidden_shape)
        self.attention_norm.build(hidden_shape)
        self.intermediate.build(hidden_shape)
        self.output_dense.build((None, None, self.intermediate_dim))
        self.output_norm.build(hidden_shape)
        super().build(input_shape)

    def call(self, x, attention_bias, position_bias=None, head_mask=None, ffn_mask=None, training=None):
        # A block with no heads / no units adds only its output bias, written
        # as a full [B, T, D] tensor: onnxruntime's fusions then see the usual
        # residual Add + LayerNorm (a bare `x + bias` breaks its graph rewrite).
        if self.num_heads:
            attended, probs = self.attention(
                x, attention_bias, position_bias=position_bias, head_mask=head_mask, training=training
            )
            x = self.attention_norm(self.dropout(attended, training=training) + x)  # [B, T, D]
        else:
            seq_len = tf.shape(x)[1]
            probs = tf.zeros((tf.shape(x)[0], 0, seq_len, seq_len), x.dtype)  # [B, 0, T, T]
            x = self.attention_norm(tf.zeros_like(x) + self.attention.output_dense.bias + x)
        if self.intermediate_dim == 0:
            return self.output_norm(tf.zeros_like(x) + self.output_dense.bias + x), probs
        h = self._activation_fn(self.intermediate(x))  # [B, T, F]
        if ffn_mask is not None:
            h = h * ffn_mask[:, None, :]
        ffn = self.output_dense(h)  # [B, T, D]
        return self.output_norm(self.dropout(ffn, training=training) + x), probs

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim,
            activation=self.activation,
            dropout=self.dropout_rate,
            attention_dropout=self.attention_dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
            quantize=self.quantize,
        )
        return config
