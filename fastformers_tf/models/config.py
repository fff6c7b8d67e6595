"""`EncoderConfig`: the plain-data description of an encoder.

Shape letters used across `fastformers_tf.models`:
  B batch, T tokens, N heads (per layer), H head_dim, D hidden_dim,
  F intermediate (FFN) units (per layer), L layers, V vocabulary.

Per-layer `num_heads` and `intermediate_dim` are first-class: pruning leaves
layers of different sizes, and a layer with zero heads or zero FFN units is
legal (that block then only adds its output bias).
"""

import dataclasses

from fastformers_tf.backend import keras
from fastformers_tf.models.activations import ACTIVATIONS, HF_ACTIVATIONS

# Which checkpoint naming and embedding variant each family uses.
FAMILIES = ("bert", "roberta", "mpnet")


def truncated_normal(stddev):
    """A new initializer per weight: Keras warns when one unseeded instance is reused."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


def _per_layer(value, num_layers, field):
    values = [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)] * num_layers
    if len(values) != num_layers:
        raise ValueError(f"`{field}` has {len(values)} entries but num_layers={num_layers}.")
    if any(v < 0 for v in values):
        raise ValueError(f"`{field}` must be >= 0 in every layer, got {values}.")
    return values


@dataclasses.dataclass
class EncoderConfig:
    """Sizes and variant of a BERT/RoBERTa/MPNet-style post-LayerNorm encoder.

    Args:
        vocab_size: V.
        num_layers: L.
        hidden_dim: D.
        num_heads: N, an int or one int per layer (0 allowed).
        intermediate_dim: F, an int or one int per layer (0 allowed).
        head_dim: H; defaults to hidden_dim // max(num_heads) and is independent
            of hidden_dim otherwise.
        family: "bert", "roberta" or "mpnet": checkpoint names, and RoBERTa/MPNet
            position ids that start after `pad_token_id` and skip padding.
        activation: "gelu" (erf, exports to ONNX), "gelu_tflite" (tf.nn.gelu),
            "gelu_tanh" or "relu".
        dropout, attention_dropout: dropout rates used in training.
        max_sequence_length: rows of the position embedding table.
        type_vocab_size: segment (token type) embeddings; 0 means none and the
            model then has no `segment_ids` input.
        layer_norm_epsilon: LayerNormalization epsilon.
        pad_token_id: padding token id (RoBERTa/MPNet position ids).
        relative_attention_num_buckets: MPNet's relative position buckets; 0
            turns the relative position bias off.
        relative_attention_max_distance: MPNet's bucket range.
        relative_attention_num_heads: columns of the shared relative position
            bias table: the unpruned head count (default max(num_heads)).
        head_ids: per layer, which heads of the shared relative position bias
            table the layer's heads are (pruning keeps this in step). Filled
            with `range(num_heads[i])` when a relative bias is used.
        initializer_range: stddev of the truncated normal initializer.

    Example:
        >>> EncoderConfig(vocab_size=99, num_layers=3, hidden_dim=32,
        ...               num_heads=[2, 3, 0], intermediate_dim=[37, 11, 0],
        ...               head_dim=8).num_heads
        [2, 3, 0]
    """

    vocab_size: int
    num_layers: int
    hidden_dim: int
    num_heads: list
    intermediate_dim: list
    head_dim: int = None
    family: str = "bert"
    activation: str = "gelu"
    dropout: float = 0.1
    attention_dropout: float = 0.1
    max_sequence_length: int = 512
    type_vocab_size: int = 2
    layer_norm_epsilon: float = 1e-12
    pad_token_id: int = 0
    relative_attention_num_buckets: int = 0
    relative_attention_max_distance: int = 128
    relative_attention_num_heads: int = None
    head_ids: list = None
    initializer_range: float = 0.02

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"Unknown family {self.family!r}; expected one of {FAMILIES}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {self.activation!r}; expected one of {sorted(ACTIVATIONS)}.")
        self.num_heads = _per_layer(self.num_heads, self.num_layers, "num_heads")
        self.intermediate_dim = _per_layer(self.intermediate_dim, self.num_layers, "intermediate_dim")
        if self.head_dim is None:
            widest = max(self.num_heads, default=0)
            if widest == 0 or self.hidden_dim % widest:
                raise ValueError(
                    f"Cannot derive head_dim from hidden_dim={self.hidden_dim} and num_heads={self.num_heads}; "
                    "pass head_dim."
                )
            self.head_dim = self.hidden_dim // widest
        if self.relative_attention_num_buckets:
            if self.relative_attention_num_heads is None:
                self.relative_attention_num_heads = max(self.num_heads)
            if self.head_ids is None:
                self.head_ids = [list(range(n)) for n in self.num_heads]
            self.head_ids = [[int(h) for h in ids] for ids in self.head_ids]
            if [len(ids) for ids in self.head_ids] != self.num_heads:
                raise ValueError(f"`head_ids` {self.head_ids} does not match num_heads {self.num_heads}.")
            if any(not 0 <= h < self.relative_attention_num_heads for ids in self.head_ids for h in ids):
                raise ValueError(
                    f"`head_ids` {self.head_ids} must index the {self.relative_attention_num_heads} "
                    "columns of the relative position bias table."
                )
        elif self.head_ids is not None or self.relative_attention_num_heads is not None:
            raise ValueError("`head_ids` and `relative_attention_num_heads` need relative_attention_num_buckets > 0.")

    def to_dict(self):
        return dataclasses.asdict(self)

    @property
    def max_tokens(self):
        """The longest input the position table covers (RoBERTa/MPNet positions start after `pad_token_id`)."""
        offset = self.pad_token_id + 1 if self.family in ("roberta", "mpnet") else 0
        return self.max_sequence_length - offset

    def to_hf(self, per_layer=False):
        """The Hugging Face `config.json` dict of this encoder.

        A stock config has one head count and FFN size for all layers. With
        `per_layer`, a pruned encoder is described anyway: the unpruned head
        count (`hidden_size / head_dim`) and the largest FFN size, with the
        real per-layer sizes under `fastformers_layers`, which transformers
        ignores (what an export folder's `config.json` carries for optimum).
        Without it, a pruned encoder raises `ValueError`.
        """
        uneven = len(set(self.num_heads)) != 1 or len(set(self.intermediate_dim)) != 1
        pruned = uneven or self.head_dim * self.num_heads[0] != self.hidden_dim
        if pruned and not per_layer:
            if uneven:
                raise ValueError(
                    f"Hugging Face configs need one head count and FFN size for all layers; this model has "
                    f"num_heads={self.num_heads}, intermediate_dim={self.intermediate_dim}."
                )
            raise ValueError(f"Hugging Face configs need head_dim * num_heads == hidden_dim, got {self.head_dim}.")
        hf_act = {"gelu": "gelu", "gelu_tflite": "gelu", "gelu_tanh": "gelu_new", "relu": "relu"}
        hf = {
            "model_type": self.family,
            "vocab_size": self.vocab_size,
            "num_hidden_layers": self.num_layers,
            "hidden_size": self.hidden_dim,
            "num_attention_heads": self.hidden_dim // self.head_dim,  # num_heads[0] when unpruned
            "intermediate_size": max(self.intermediate_dim),
            "hidden_act": hf_act[self.activation],
            "hidden_dropout_prob": self.dropout,
            "attention_probs_dropout_prob": self.attention_dropout,
            "max_position_embeddings": self.max_sequence_length,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.layer_norm_epsilon,
            "pad_token_id": self.pad_token_id,
            "initializer_range": self.initializer_range,
            **(
                {"relative_attention_num_buckets": self.relative_attention_num_buckets}
                if self.family == "mpnet"
                else {}
            ),
        }
        if pruned:
            hf["fastformers_layers"] = {
                "num_heads": list(self.num_heads),
                "intermediate_dim": list(self.intermediate_dim),
                "head_dim": self.head_dim,
            }
        return hf

    @classmethod
    def from_hf(cls, hf_config):
        """Builds the config from a Hugging Face `config.json` dict."""
        model_type = hf_config.get("model_type")
        families = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta", "mpnet": "mpnet"}
        if model_type not in families:
            raise ValueError(f"Unsupported model_type {model_type!r} in config.json; supported: {sorted(families)}.")
        family = families[model_type]
        act = hf_config.get("hidden_act", "gelu")
        if act not in HF_ACTIVATIONS:
            raise ValueError(f"Unsupported hidden_act {act!r} in config.json; supported: {sorted(HF_ACTIVATIONS)}.")
        if hf_config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("Only position_embedding_type='absolute' checkpoints are supported.")
        num_heads = hf_config["num_attention_heads"]
        hidden = hf_config["hidden_size"]
        if not isinstance(num_heads, int) or num_heads < 1 or hidden % num_heads:
            raise ValueError(
                f"hidden_size={hidden} is not num_attention_heads={num_heads} x a whole head size; "
                "Hugging Face models split hidden_size evenly across heads (was num_attention_heads edited?)."
            )
        # Heads transformers prunes at load time (`pruned_heads`, layer -> head indices): fewer heads per layer.
        pruned = {int(layer): len(set(heads)) for layer, heads in (hf_config.get("pruned_heads") or {}).items()}
        if pruned:
            num_heads = [num_heads - pruned.get(i, 0) for i in range(hf_config["num_hidden_layers"])]
        return cls(
            vocab_size=hf_config["vocab_size"],
            num_layers=hf_config["num_hidden_layers"],
            hidden_dim=hidden,
            num_heads=num_heads,
            intermediate_dim=hf_config["intermediate_size"],
            head_dim=hidden // hf_config["num_attention_heads"],
            family=family,
            activation=HF_ACTIVATIONS[act],
            dropout=hf_config.get("hidden_dropout_prob", 0.1),
            attention_dropout=hf_config.get("attention_probs_dropout_prob", 0.1),
            max_sequence_length=hf_config["max_position_embeddings"],
            type_vocab_size=0 if family == "mpnet" else hf_config.get("type_vocab_size", 2),
            layer_norm_epsilon=hf_config.get("layer_norm_eps", 1e-12),
            pad_token_id=hf_config.get("pad_token_id", 0) if hf_config.get("pad_token_id") is not None else 0,
            relative_attention_num_buckets=hf_config.get("relative_attention_num_buckets", 32)
            if family == "mpnet"
            else 0,
            initializer_range=hf_config.get("initializer_range", 0.02),
        )
