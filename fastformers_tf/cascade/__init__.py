"""Cascades of exports: calibrate their thresholds on a labeled split and write a cascade folder.

`fastformers_tf.runtime.CascadePredictor` runs a cascade; `fastformers_tf.export.cascade` writes and reads its folder.
"""

from fastformers_tf._lazy import lazy_exports

_EXPORTS = {
    "Sweep": "fastformers_tf.cascade.thresholds",
    "answers": "fastformers_tf.cascade.thresholds",
    "calibrate": "fastformers_tf.cascade.run",
    "pick": "fastformers_tf.cascade.thresholds",
    "stage_spec": "fastformers_tf.cascade.run",
    "summary_line": "fastformers_tf.cascade.run",
    "sweep": "fastformers_tf.cascade.thresholds",
    "within_budget": "fastformers_tf.cascade.thresholds",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
