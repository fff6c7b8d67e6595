"""The whole recipe as one job: teacher -> distill -> prune -> (qat) -> export -> benchmark -> select.

compress(recipe)                         # every stage, into runs/<task>/compress
compress(recipe, stages=["benchmark"])   # a subset; finished stages are kept
"""

from fastformers_tf._lazy import lazy_exports

# Lazy so that `import fastformers_tf` (which imports this package) loads no TensorFlow.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "compress": "fastformers_tf.compress.run",
        "Candidate": "fastformers_tf.compress.benchmark",
    },
)

__all__ = ["Candidate", "compress"]
