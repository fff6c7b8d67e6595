"""Structured pruning of attention heads and FFN units."""

from fastformers_tf._lazy import lazy_exports

# Lazy so that `import fastformers_tf` (which imports this package) loads no TensorFlow.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PrunePlan": "fastformers_tf.prune.plan",
        "prune": "fastformers_tf.prune.apply",
        "prune_encoder": "fastformers_tf.prune.apply",
    },
)

__all__ = ["PrunePlan", "prune", "prune_encoder"]
