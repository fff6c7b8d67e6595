"""Encoders, task heads, checkpoint conversion and saving."""

from fastformers_tf.models.checkpoint import (
    CheckpointError,
    encoder_from_hf_checkpoint,
    load_hf_weights,
    save_hf_checkpoint,
)
from fastformers_tf.models.classifier import TextClassifier
from fastformers_tf.models.config import EncoderConfig
from fastformers_tf.models.encoder import TransformerEncoder
from fastformers_tf.models.pretrained import from_pretrained, load_tokenizer, resolve
from fastformers_tf.models.saving import load_model, save_model
from fastformers_tf.models.span_classifier import SpanClassifier

__all__ = [
    "CheckpointError",
    "EncoderConfig",
    "SpanClassifier",
    "TextClassifier",
    "TransformerEncoder",
    "encoder_from_hf_checkpoint",
    "from_pretrained",
    "load_hf_weights",
    "load_model",
    "load_tokenizer",
    "resolve",
    "save_hf_checkpoint",
    "save_model",
]
