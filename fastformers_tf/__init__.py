"""fastformers_tf: fast Transformer text classifiers in TensorFlow/Keras.

>>> import fastformers_tf as ff
>>> encoder = ff.from_pretrained("all-MiniLM-L6-v2")
>>> model = ff.TextClassifier(encoder, num_classes=2)
"""

from fastformers_tf.backend import keras, tf
from fastformers_tf.models import (
    CheckpointError,
    EncoderConfig,
    SpanClassifier,
    TextClassifier,
    TransformerEncoder,
    from_pretrained,
    load_model,
    load_tokenizer,
    save_model,
)
from fastformers_tf.prune import PrunePlan, prune

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "EncoderConfig",
    "PrunePlan",
    "SpanClassifier",
    "TextClassifier",
    "TransformerEncoder",
    "from_pretrained",
    "keras",
    "load_model",
    "load_tokenizer",
    "prune",
    "save_model",
    "tf",
]
