"""Students: transforms that return a new, smaller encoder from a given one.

- `keep_layers(encoder, [1, 3, 5])`: those layers, weights copied (a subset of
  a pretrained model, e.g. 3 of MiniLM's 6 or 6 of MPNet's 12).
- `reshape(encoder, num_layers=4, hidden_dim=312, intermediate_dim=1200)`: a
  new shape (TinyBERT-4's), initialised from `encoder` where shapes allow:
  each weight takes the leading block of the matching weight of the mapped
  layer (layer i <- `layer_map`), the rest stays randomly initialised.
- `with_activation(encoder, "relu")`: the FFN activation swapped (the paper
  swaps GELU for ReLU during distillation); weights unchanged.

The input encoder is never changed.
"""

import numpy as np

from fastformers_tf.distill.losses import layer_map
from fastformers_tf.errors import ArgumentError


def keep_layers(encoder, layers, flag="distill.keep_layers"):
    """A new encoder with only `layers` (indices into `encoder`'s layers, in the order given)."""
    from fastformers_tf.models.encoder import TransformerEncoder, copy_outer_weights

    total = encoder.config.num_layers
    bad = [i for i in layers if not 0 <= i < total]
    if bad or not layers or len(set(layers)) != len(layers):
        problem = f"indices {bad} out of range" if bad else "no layers" if not layers else "repeated indices"
        raise ArgumentError(f"{flag}={list(layers)}: {problem}; the student model has layers 0..{total - 1}.")
    config = encoder.get_config()
    config["num_layers"] = len(layers)
    config["num_heads"] = [encoder.config.num_heads[i] for i in layers]
    config["intermediate_dim"] = [encoder.config.intermediate_dim[i] for i in layers]
    if encoder.config.head_ids is not None:
        config["head_ids"] = [encoder.config.head_ids[i] for i in layers]
    student = TransformerEncoder(**config)
    copy_outer_weights(encoder, student)
    for dst, i in zip(student.transformer_layers, layers, strict=True):
        dst.set_weights(encoder.transformer_layers[i].get_weights())
    return student


def _copy_leading(src_layer, dst_layer):
    """Copies into each of `dst_layer`'s weights the leading block of the source weight in the same place
    (same layer class, so the same order); returns [copied whole, copied in part, left random]."""
    counts = [0, 0, 0]
    for src, weight in zip(src_layer.weights, dst_layer.weights, strict=True):
        if len(src.shape) != len(weight.shape) or any(s < d for s, d in zip(src.shape, weight.shape, strict=True)):
            counts[2] += 1
            continue
        weight.assign(src.numpy()[tuple(slice(0, d) for d in weight.shape)])
        counts[0 if tuple(src.shape) == tuple(weight.shape) else 1] += 1
    return counts


def reshape(encoder, num_layers=0, hidden_dim=0, num_heads=0, intermediate_dim=0, mapping=None, seed=0):
    """A new encoder of another shape (0 keeps `encoder`'s value), initialised from `encoder` where shapes allow.

    Returns `(student, report)`, where `report` counts the weights copied
    whole, copied in part (leading block) and left random.
    """
    from fastformers_tf.backend import keras
    from fastformers_tf.models.encoder import TransformerEncoder

    old = encoder.config
    num_layers = num_layers or old.num_layers
    hidden_dim = hidden_dim or old.hidden_dim
    num_heads = num_heads or max(old.num_heads)
    intermediate_dim = intermediate_dim or max(old.intermediate_dim)
    if hidden_dim % num_heads:
        raise ArgumentError(f"distill.hidden_dim={hidden_dim} is not a multiple of distill.num_heads={num_heads}.")
    config = encoder.get_config()
    config.update(
        num_layers=num_layers,
        hidden_dim=hidden_dim,
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        head_dim=hidden_dim // num_heads,
        head_ids=None,
        relative_attention_num_heads=None,
    )
    keras.utils.set_random_seed(seed)
    student = TransformerEncoder(**config)
    counts = np.zeros(3, np.int64)
    counts += _copy_leading(encoder.embeddings, student.embeddings)
    counts += _copy_leading(encoder.pooler, student.pooler)
    if encoder.position_bias_layer is not None:
        counts += _copy_leading(encoder.position_bias_layer, student.position_bias_layer)
    for i, t in enumerate(layer_map(num_layers, old.num_layers, mapping)):
        counts += _copy_leading(encoder.transformer_layers[t], student.transformer_layers[i])
    return student, dict(zip(("copied", "copied_in_part", "random"), counts.tolist(), strict=True))


def with_activation(encoder, activation):
    """`encoder` with its FFN activation replaced (same weights); `encoder` itself when unchanged."""
    if not activation or activation == encoder.config.activation:
        return encoder
    return encoder.with_options(activation=activation)
