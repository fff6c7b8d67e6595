"""Activations by name.

`gelu` is exact GELU written with `tf.math.erf`: tf2onnx exports it as `Erf`
(onnxruntime fuses it to `Gelu`), whereas `tf.nn.gelu` becomes an `Erfc` op
that tf2onnx rejects. TFLite is the other way round, so `gelu_tflite` is the
same function spelled `tf.nn.gelu`; the two agree to float rounding.
"""

import math

from fastformers_tf.backend import tf


def gelu(x):
    # x * 0.5 * (1 + erf(x / sqrt(2))), in the operand order onnxruntime's Gelu fusion matches.
    return x * (0.5 * (1.0 + tf.math.erf(x * tf.cast(1.0 / math.sqrt(2.0), x.dtype))))


def gelu_tflite(x):
    return tf.nn.gelu(x, approximate=False)


def gelu_tanh(x):
    c = tf.cast(math.sqrt(2.0 / math.pi), x.dtype)
    return 0.5 * x * (1.0 + tf.math.tanh(c * (x + 0.044715 * tf.math.pow(x, 3))))


def relu(x):
    return tf.nn.relu(x)


ACTIVATIONS = {"gelu": gelu, "gelu_tflite": gelu_tflite, "gelu_tanh": gelu_tanh, "relu": relu}

# Hugging Face `hidden_act` values and the activation that computes them.
HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_python": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}


def get_activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]
