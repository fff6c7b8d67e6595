"""`TransformerEncoder`: the BERT/RoBERTa/MPNet encoder as a functional Keras model."""

from fastformers_tf.backend import keras, tf
from fastformers_tf.models.attention import padding_mask_to_attention_bias
from fastformers_tf.models.config import EncoderConfig, truncated_normal
from fastformers_tf.models.embeddings import TextEmbeddings
from fastformers_tf.models.encoder_layer import TransformerEncoderLayer
from fastformers_tf.models.position_bias import RelativePositionBias


def input_signature(model):
    """`tf.TensorSpec`s for a model's inputs with batch and token axes dynamic.

    For `tf.function` (no retracing per shape) and exporters. Mask inputs are
    for importance scoring and are refused here.
    """
    if any(name in ("head_mask", "ffn_mask") for name in model.input):
        raise ValueError("This model has head/FFN mask inputs; use encoder.with_options(mask_inputs=False).")
    return ({name: tf.TensorSpec(x.shape, x.dtype, name=name) for name, x in model.input.items()},)


@keras.saving.register_keras_serializable(package="fastformers_tf")
class TransformerEncoder(keras.Model):
    """A post-LayerNorm Transformer encoder with per-layer sizes.

    Args:
        **config: the fields of `EncoderConfig` (sizes, family, activation...).
        output_hidden_states: also output `hidden_states`, the L+1 `[B, T, D]`
            tensors (embeddings, then each layer), for distillation.
        output_attentions: also output `attention_probs`, L `[B, N_i, T, T]`.
        mask_inputs: add float inputs `head_mask` `[B, sum(num_heads)]` and
            `ffn_mask` `[B, sum(intermediate_dim)]`, concatenated over layers,
            that multiply attention probabilities and FFN activations: their
            gradients are the first-order importance scores used for pruning.
        quantize: 8-bit fake quantization of every Transformer-layer GEMM
            (`QuantDense`), for quantization-aware training and full-integer
            exports; see `fastformers_tf.quantize.quantize_model`.

    Inputs (a dict): `token_ids` int32 `[B, T]`, `segment_ids` int32 `[B, T]`
    (only when `type_vocab_size > 0`), `padding_mask` int32 `[B, T]`, and the
    masks above. Outputs (a dict): `sequence_output` `[B, T, D]`,
    `pooled_output` `[B, D]` (tanh Dense over the first token), and the
    optional lists.

    Example:
        >>> encoder = TransformerEncoder(vocab_size=99, num_layers=3, hidden_dim=32,
        ...     num_heads=[2, 3, 0], intermediate_dim=[37, 11, 0], head_dim=8)
        >>> out = encoder({"token_ids": tf.constant([[2, 5, 7]]),
        ...                "segment_ids": tf.zeros((1, 3), tf.int32),
        ...                "padding_mask": tf.ones((1, 3), tf.int32)})
        >>> out["sequence_output"].shape
        TensorShape([1, 3, 32])
    """

    def __init__(
        self, output_hidden_states=False, output_attentions=False, mask_inputs=False, quantize=False, **kwargs
    ):
        base_kwargs = {k: kwargs.pop(k) for k in ("name", "trainable", "dtype") if k in kwargs}
        config = EncoderConfig(**kwargs)

        # === Layers ===
        embeddings = TextEmbeddings(
            config.vocab_size,
            config.hidden_dim,
            config.max_sequence_length,
            config.type_vocab_size,
            config.layer_norm_epsilon,
            config.dropout,
            padding_offset_id=None if config.family == "bert" else config.pad_token_id,
            initializer_range=config.initializer_range,
            name="embeddings",
        )
        position_bias_layer = None
        if config.relative_attention_num_buckets:
            position_bias_layer = RelativePositionBias(
                config.relative_attention_num_buckets,
                config.relative_attention_num_heads,
                config.relative_attention_max_distance,
                config.max_sequence_length,
                config.initializer_range,
                name="relative_position_bias",
            )
        transformer_layers = [
            TransformerEncoderLayer(
                num_heads,
                config.head_dim,
                config.hidden_dim,
                intermediate_dim,
                config.activation,
                config.dropout,
                config.attention_dropout,
                config.layer_norm_epsilon,
                config.initializer_range,
                quantize,
                name=f"transformer_layer_{i}",
            )
            for i, (num_heads, intermediate_dim) in enumerate(
                zip(config.num_heads, config.intermediate_dim, strict=True)
            )
        ]
        pooler = keras.layers.Dense(
            config.hidden_dim,
            activation="tanh",
            kernel_initializer=truncated_normal(config.initializer_range),
            name="pooler",
        )

        # === Functional Model ===
        inputs = {"token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids")}
        if config.type_vocab_size:
            inputs["segment_ids"] = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        inputs["padding_mask"] = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        if mask_inputs:
            inputs["head_mask"] = keras.Input(shape=(sum(config.num_heads),), name="head_mask")
            inputs["ffn_mask"] = keras.Input(shape=(sum(config.intermediate_dim),), name="ffn_mask")

        x = embeddings(inputs["token_ids"], inputs.get("segment_ids"))  # [B, T, D]
        attention_bias = padding_mask_to_attention_bias(inputs["padding_mask"])  # [B, 1, 1, T]
        all_heads_bias = position_bias_layer(inputs["token_ids"]) if position_bias_layer else None
        hidden_states, attention_probs = [x], []
        head_start = ffn_start = 0
        for i, layer in enumerate(transformer_layers):
            n, f = config.num_heads[i], config.intermediate_dim[i]
            position_bias = None
            if all_heads_bias is not None and n:
                position_bias = tf.gather(all_heads_bias, config.head_ids[i], axis=1)  # [1, N, T, T]
            head_mask = ffn_mask = None
            if mask_inputs:
                head_mask = inputs["head_mask"][:, head_start : head_start + n]  # [B, N]
                ffn_mask = inputs["ffn_mask"][:, ffn_start : ffn_start + f]  # [B, F]
            head_start, ffn_start = head_start + n, ffn_start + f
            x, probs = layer(x, attention_bias, position_bias=position_bias, head_mask=head_mask, ffn_mask=ffn_mask)
            hidden_states.append(x)
            attention_probs.append(probs)

        outputs = {"sequence_output": x, "pooled_output": pooler(x[:, 0, :])}
        if output_hidden_states:
            outputs["hidden_states"] = hidden_states
        if output_attentions:
            outputs["attention_probs"] = attention_probs
        super().__init__(inputs=inputs, outputs=outputs, **base_kwargs)

        # === Config ===
        self.config = config
        self.output_hidden_states = output_hidden_states
        self.output_attentions = output_attentions
        self.mask_inputs = mask_inputs
        self.quantize = quantize
        self.embeddings = embeddings
        self.position_bias_layer = position_bias_layer
        self.transformer_layers = transformer_layers
        self.pooler = pooler

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.config.to_dict(),
            "output_hidden_states": self.output_hidden_states,
            "output_attentions": self.output_attentions,
            "mask_inputs": self.mask_inputs,
            "quantize": self.quantize,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def with_options(self, **overrides):
        """A new encoder with these weights and some options changed.

        For options that keep every weight's shape: `output_hidden_states`,
        `output_attentions`, `mask_inputs`, `activation`, dropout rates.
        """
        clone = TransformerEncoder(**{**self.get_config(), **overrides})
        clone.set_weights(self.get_weights())
        return clone

    def dummy_inputs(self, batch_size=2, seq_len=7, seed=0):
        """A deterministic batch of valid inputs (last example half padded)."""
        gen = tf.random.Generator.from_seed(seed)
        token_ids = gen.uniform((batch_size, seq_len), 3, self.config.vocab_size, dtype=tf.int32)
        lengths = [seq_len] * (batch_size - 1) + [max(1, seq_len // 2)]
        padding_mask = tf.sequence_mask(lengths, seq_len, dtype=tf.int32)
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        if self.config.type_vocab_size:
            second_half = tf.cast(tf.range(seq_len) >= seq_len // 2, tf.int32) * min(1, self.config.type_vocab_size - 1)
            inputs["segment_ids"] = tf.tile(second_half[None, :], [batch_size, 1])
        if self.mask_inputs:
            inputs["head_mask"] = tf.ones((batch_size, sum(self.config.num_heads)))
            inputs["ffn_mask"] = tf.ones((batch_size, sum(self.config.intermediate_dim)))
        return inputs


def copy_outer_weights(source, target):
    """Copies the weights outside the Transformer layers (embeddings, pooler, relative position bias) into
    `target`, an encoder of the same width cut from `source` (pruned, or fewer layers)."""
    target.embeddings.set_weights(source.embeddings.get_weights())
    target.pooler.set_weights(source.pooler.get_weights())
    if source.position_bias_layer is not None:
        target.position_bias_layer.set_weights(source.position_bias_layer.get_weights())


def encoder_of(model):
    """The `TransformerEncoder` inside a task model (or `model` itself)."""
    encoder = model if isinstance(model, TransformerEncoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, TransformerEncoder):
        raise TypeError(f"Expected a TransformerEncoder or a task model around one, got {type(model).__name__}.")
    return encoder
