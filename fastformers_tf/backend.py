"""The one place that picks tf-keras (Keras 2) and imports Keras.

Every other module does `from fastformers_tf.backend import keras, tf`, so the
choice of Keras cannot differ between modules and `TF_USE_LEGACY_KERAS` is set
before TensorFlow is first imported (transformers' TF classes read it too).
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["keras", "tf"]
