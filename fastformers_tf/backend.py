"""The one place that picks tf-keras (Keras 2) and imports Keras.

Every other module does `from fastformers_tf.backend import keras, tf`, so the
choice of Keras cannot differ between modules and `TF_USE_LEGACY_KERAS` is set
before TensorFlow is first imported (transformers' TF classes read it too).
Under the tools' quiet mode (`fastformers_tf.logs`), TensorFlow's start-up
lines are discarded.
"""

import contextlib
import os

from fastformers_tf.logs import is_quiet, silenced_stderr

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

with silenced_stderr() if is_quiet() else contextlib.nullcontext():
    import tensorflow as tf
    import tf_keras as keras

__all__ = ["keras", "tf"]
