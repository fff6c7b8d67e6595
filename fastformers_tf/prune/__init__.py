"""Structured pruning of attention heads and FFN units."""

from fastformers_tf.prune.apply import prune, prune_encoder
from fastformers_tf.prune.plan import PrunePlan

__all__ = ["PrunePlan", "prune", "prune_encoder"]
