"""Physically remove heads and FFN units: returns a new, smaller model."""

import numpy as np


def _head_columns(heads, head_dim):
    # Columns of a [D, N*H] projection that belong to the kept heads.
    return (
        np.concatenate([np.arange(h * head_dim, (h + 1) * head_dim) for h in heads]).astype(np.int64)
        if heads
        else np.zeros(0, np.int64)
    )


def _copy_layer(src, dst, heads, units, head_dim):
    cols = _head_columns(heads, head_dim)
    for name in ("query", "key", "value"):
        s, d = getattr(src.attention, name), getattr(dst.attention, name)
        d.kernel.assign(s.kernel.numpy()[:, cols])
        d.bias.assign(s.bias.numpy()[cols])
    dst.attention.output_dense.kernel.assign(src.attention.output_dense.kernel.numpy()[cols, :])
    dst.attention.output_dense.bias.assign(src.attention.output_dense.bias)
    dst.intermediate.kernel.assign(src.intermediate.kernel.numpy()[:, units])
    dst.intermediate.bias.assign(src.intermediate.bias.numpy()[units])
    dst.output_dense.kernel.assign(src.output_dense.kernel.numpy()[units, :])
    dst.output_dense.bias.assign(src.output_dense.bias)
    for name in ("attention_norm", "output_norm"):
        getattr(dst, name).set_weights(getattr(src, name).get_weights())


def prune_encoder(encoder, plan):
    """Returns a new `TransformerEncoder` keeping only the plan's heads and units.

    The input model is not changed. Embeddings, LayerNorms, biases of the
    output projections, the pooler and a relative position bias table carry
    over; for MPNet, `head_ids` records which table columns each layer keeps.

    Example:
        >>> small = prune_encoder(encoder, PrunePlan(heads=[[0, 1], [0, 2, 3], []],
        ...                                          ffn_units=[range(37), [1, 4], []]))
    """
    from fastformers_tf.models.encoder import TransformerEncoder, copy_outer_weights

    config = encoder.get_config()
    plan.validate(encoder.config)
    config["num_heads"] = plan.num_heads
    config["intermediate_dim"] = plan.intermediate_dim
    if encoder.config.head_ids is not None:
        config["head_ids"] = [
            [ids[h] for h in kept] for ids, kept in zip(encoder.config.head_ids, plan.heads, strict=True)
        ]
    pruned = TransformerEncoder(**config)
    copy_outer_weights(encoder, pruned)
    for src, dst, heads, units in zip(
        encoder.transformer_layers, pruned.transformer_layers, plan.heads, plan.ffn_units, strict=True
    ):
        _copy_layer(src, dst, heads, np.asarray(units, np.int64), encoder.config.head_dim)
    return pruned


def prune(model, plan):
    """Prunes a `TransformerEncoder` or a task model around one; returns a new model."""
    from fastformers_tf.models.encoder import TransformerEncoder
    from fastformers_tf.models.task_model import TaskModel

    if isinstance(model, TransformerEncoder):
        return prune_encoder(model, plan)
    if isinstance(model, TaskModel):
        return model.with_encoder(prune_encoder(model.encoder, plan))
    raise TypeError(f"Cannot prune a {type(model).__name__}; expected a TransformerEncoder or a task model.")
