"""Structured pruning of attention heads and FFN units: score, plan, remove, re-distil.

scores = importance(model, data)                          # |dL/d mask| per head and FFN unit
plan = make_plan(scores, encoder.config, heads=0.5, ffn=0.5, allocation="global")
smaller = prune(model, plan)                              # a new model; `model` is unchanged
prune_model(recipe)                                       # the stage: tools/prune.py
"""

from fastformers_tf._lazy import lazy_exports

# Lazy so that `import fastformers_tf` (which imports this package) loads no TensorFlow.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PrunePlan": "fastformers_tf.prune.plan",
        "prune": "fastformers_tf.prune.apply",
        "prune_encoder": "fastformers_tf.prune.apply",
        "Scores": "fastformers_tf.prune.importance",
        "importance": "fastformers_tf.prune.importance",
        "make_plan": "fastformers_tf.prune.allocation",
        "prune_model": "fastformers_tf.prune.run",
        "sweep": "fastformers_tf.prune.sweep",
    },
)

__all__ = ["PrunePlan", "Scores", "importance", "make_plan", "prune", "prune_encoder", "prune_model", "sweep"]
