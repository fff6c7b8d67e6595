"""Token + position (+ segment) embeddings, then LayerNorm and dropout."""

import numpy as np

from fastformers_tf.backend import keras, tf
from fastformers_tf.models.config import truncated_normal as _init


@keras.saving.register_keras_serializable(package="fastformers_tf")
class TextEmbeddings(keras.layers.Layer):
    """Sum of word, position and segment embeddings, normalized.

    The sum is `(word + position) + segment`, each a `tf.gather` from its
    table, with absolute position ids sliced from a constant range: the shape
    onnxruntime's `bert_keras` optimizer fuses into `EmbedLayerNormalization`.

    Args:
        vocab_size: V.
        hidden_dim: D.
        max_sequence_length: rows of the position table.
        type_vocab_size: rows of the segment table; 0 for none.
        layer_norm_epsilon: LayerNormalization epsilon.
        dropout: dropout rate after the LayerNorm.
        padding_offset_id: None for BERT's positions 0..T-1; for RoBERTa and
            MPNet, the padding id: real tokens get positions pad+1, pad+2, ...
            and padding tokens get position pad.
        initializer_range: stddev of the table initializer.

    Example:
        >>> layer = TextEmbeddings(99, 32, 64, 2, 1e-12, 0.1)
        >>> layer(tf.constant([[5, 6, 7]]), tf.constant([[0, 0, 1]])).shape
        TensorShape([1, 3, 32])
    """

    def __init__(
        self,
        vocab_size,
        hidden_dim,
        max_sequence_length,
        type_vocab_size,
        layer_norm_epsilon,
        dropout,
        padding_offset_id=None,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.type_vocab_size = type_vocab_size
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout_rate = dropout
        self.padding_offset_id = padding_offset_id
        self.initializer_range = initializer_range
        self.layer_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="layer_norm")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        self.word_embeddings = self.add_weight(
            name="word_embeddings", shape=(self.vocab_size, self.hidden_dim), initializer=_init(self.initializer_range)
        )
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_sequence_length, self.hidden_dim),
            initializer=_init(self.initializer_range),
        )
        self.token_type_embeddings = None
        if self.type_vocab_size:
            self.token_type_embeddings = self.add_weight(
                name="token_type_embeddings",
                shape=(self.type_vocab_size, self.hidden_dim),
                initializer=_init(self.initializer_range),
            )
        self.layer_norm.build((None, None, self.hidden_dim))
        super().build(input_shape)

    def position_ids(self, token_ids):
        if self.padding_offset_id is None:
            seq_len = tf.shape(token_ids)[1]
            return tf.constant(np.arange(self.max_sequence_length, dtype=np.int32))[:seq_len]  # [T]
        not_pad = tf.cast(tf.not_equal(token_ids, self.padding_offset_id), tf.int32)  # [B, T]
        return tf.cumsum(not_pad, axis=1) * not_pad + self.padding_offset_id  # [B, T]

    def call(self, token_ids, segment_ids=None, training=None):
        x = tf.gather(self.word_embeddings, token_ids)  # [B, T, D]
        x = x + tf.gather(self.position_embeddings, self.position_ids(token_ids))  # [B, T, D]
        if self.token_type_embeddings is not None:
            if segment_ids is None:
                segment_ids = tf.zeros_like(token_ids)
            x = x + tf.gather(self.token_type_embeddings, segment_ids)
        x = self.layer_norm(x)
        return self.dropout(x, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_dim=self.hidden_dim,
            max_sequence_length=self.max_sequence_length,
            type_vocab_size=self.type_vocab_size,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dropout=self.dropout_rate,
            padding_offset_id=self.padding_offset_id,
            initializer_range=self.initializer_range,
        )
        return config
