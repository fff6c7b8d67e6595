"""TFLite inference on texts through the LiteRT interpreter; needs no TensorFlow when LiteRT is installed."""

import contextlib
import logging

import numpy as np

from fastformers_tf import logs
from fastformers_tf.runtime.base import Predictor, unreadable_model
from fastformers_tf.runtime.names import to_inner

logger = logging.getLogger(__name__)


def interpreter_class():
    """LiteRT's `Interpreter` (`pip install ai-edge-litert`), else TensorFlow's `tf.lite.Interpreter`."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        logger.info("ai-edge-litert is not installed; using tf.lite.Interpreter (imports TensorFlow).")
        from fastformers_tf.backend import tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


class TfLitePredictor(Predictor):
    """Runs a `.tflite` file from `export_tflite` (see `Predictor` for batching).

    The file has dynamic batch and sequence axes; each batch's shape is set
    with `resize_tensor_input` and `allocate_tensors`, only when it changes.

    Args:
        path: the `.tflite` file.
        tokenizer: the model's transformers tokenizer.
        labels: label names, index-aligned with the logits.
        max_length: longer texts are truncated to this many tokens (None: 128,
            or the model's `max_tokens` when lower).
        batch_size: texts per forward pass.
        threads: interpreter threads (None: the interpreter's default).
        max_tokens: the longest input the model takes (export.json's), checked
            against `max_length`.

    Example:
        >>> predictor = TfLitePredictor("export/model.int8.tflite", tokenizer, threads=2)
    """

    def __init__(
        self, path, tokenizer=None, labels=None, max_length=None, batch_size=32, threads=None, max_tokens=None
    ):
        super().__init__(tokenizer, labels, max_length, batch_size, max_tokens)
        self.path = path
        self.threads = threads
        # The first allocation applies XNNPACK, which says so on stderr ("INFO: Created ... delegate").
        quiet = logs.silenced_stderr() if logs.is_quiet() else contextlib.nullcontext()
        with unreadable_model(path, "a TFLite model"), quiet:
            self.interpreter = interpreter_class()(model_path=path, **({"num_threads": threads} if threads else {}))
            self.interpreter.allocate_tensors()
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1:
            raise ValueError(f"{path} has signatures {sorted(signatures)}; expected exactly one.")
        runner = self.interpreter.get_signature_runner()
        # Keyed by the inner names, whichever spelling the file uses (see `runtime.names`).
        self._inputs = {to_inner(name): (d["index"], d["dtype"]) for name, d in runner.get_input_details().items()}
        self._outputs = {to_inner(name): d["index"] for name, d in runner.get_output_details().items()}
        # A live signature runner holds the interpreter, and resize_tensor_input refuses to run then.
        del runner
        self.input_names = tuple(sorted(self._inputs))
        self.output_names = tuple(sorted(self._outputs))
        self._shapes = {}

    def forward(self, inputs):
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise KeyError(f"{self.path} needs inputs {missing}; got {sorted(inputs)}.")
        arrays = {name: np.ascontiguousarray(inputs[name], dtype=dtype) for name, (_, dtype) in self._inputs.items()}
        shapes = {name: array.shape for name, array in arrays.items()}
        if shapes != self._shapes:
            for name, (index, _) in self._inputs.items():
                self.interpreter.resize_tensor_input(index, shapes[name])
            self.interpreter.allocate_tensors()
            self._shapes = shapes
        for name, (index, _) in self._inputs.items():
            self.interpreter.set_tensor(index, arrays[name])
        self.interpreter.invoke()
        return {name: self.interpreter.get_tensor(index) for name, index in self._outputs.items()}
