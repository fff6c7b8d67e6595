"""fastformers_tf: fast Transformer text classifiers in TensorFlow/Keras.

>>> import fastformers_tf as ff
>>> encoder = ff.from_pretrained("all-MiniLM-L6-v2")
>>> model = ff.TextClassifier(encoder, num_classes=2)

The stages are packages (`ff.distill`, `ff.prune`, `ff.compress`, ...); the
verbs that run them from a recipe are `ff.distill_model`, `ff.prune_model` and
`ff.compress_model` (the whole job).

The names below load TensorFlow on first use, not on `import fastformers_tf`,
so that serving an ONNX or TFLite export (`fastformers_tf.runtime`) needs no
TensorFlow.
"""

import os

from fastformers_tf import compress, distill, prune  # noqa: F401  (packages, lazy themselves: no TensorFlow)
from fastformers_tf._lazy import lazy_exports

# backend.py makes the same choice; it is repeated here so that importing the
# package still picks tf-keras for a TensorFlow the user imports afterwards.
os.environ["TF_USE_LEGACY_KERAS"] = "1"

__version__ = "0.1.0"

_EXPORTS = {
    "keras": "fastformers_tf.backend",
    "tf": "fastformers_tf.backend",
    "CheckpointError": "fastformers_tf.models",
    "compress_model": "fastformers_tf.compress.run:compress",
    "Distiller": "fastformers_tf.distill",
    "distill_model": "fastformers_tf.distill.run:distill",
    "EncoderConfig": "fastformers_tf.models",
    "SpanClassifier": "fastformers_tf.models",
    "TextClassifier": "fastformers_tf.models",
    "TransformerEncoder": "fastformers_tf.models",
    "from_pretrained": "fastformers_tf.models",
    "load_model": "fastformers_tf.models",
    "load_tokenizer": "fastformers_tf.models",
    "save_model": "fastformers_tf.models",
    "PrunePlan": "fastformers_tf.prune",
    "prune_model": "fastformers_tf.prune",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted([*_EXPORTS, "compress", "distill", "prune"])
