"""Inference on texts."""

from fastformers_tf.runtime.keras_predictor import KerasPredictor

__all__ = ["KerasPredictor"]
