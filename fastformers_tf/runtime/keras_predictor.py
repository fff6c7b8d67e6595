"""Batched Keras inference on raw texts, padded per batch (dynamic length)."""

from fastformers_tf.backend import tf
from fastformers_tf.models.encoder import encoder_of, input_signature
from fastformers_tf.runtime.base import Predictor


def keras_outputs(outputs):
    """A Keras model's outputs as `{name: array}`: a classifier's tensor is `logits`; lists are dropped."""
    if isinstance(outputs, dict):
        return {name: value.numpy() for name, value in outputs.items() if not isinstance(value, list | tuple)}
    return {"logits": outputs.numpy()}


def keras_outputs_spec(model):
    """The output names `keras_outputs` gives for `model`."""
    if isinstance(model.output, dict):
        return [name for name, value in model.output.items() if not isinstance(value, list | tuple)]
    return ["logits"]


def set_keras_threads(threads):
    """Intra-op threads for TensorFlow; only possible before TensorFlow has run anything."""
    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as e:
        raise RuntimeError(
            f"Cannot set TensorFlow to {threads} threads: it has already run in this process ({e}). "
            "Create the KerasPredictor before anything else runs TensorFlow."
        ) from e


class KerasPredictor(Predictor):
    """Runs a `TextClassifier`, `SpanClassifier` or `TransformerEncoder` on texts.

    Texts are tokenized once, sorted by length and batched, and each batch is
    padded only to its own longest sequence; results come back in input order
    (see `Predictor`).

    Args:
        model: a task model (for `predict`, `logits`) or a `TransformerEncoder`
            (for `embed` and `zero_shot`).
        tokenizer: the model's transformers tokenizer.
        max_length: longer texts are truncated to this many tokens (None: 128,
            or the model's `max_tokens` when lower).
        batch_size: texts per forward pass.
        threads: TensorFlow intra-op threads (None: TensorFlow's default);
            settable only before TensorFlow has run anything in the process.

    Example:
        >>> predictor = KerasPredictor(from_pretrained("all-MiniLM-L6-v2"),
        ...                            load_tokenizer("all-MiniLM-L6-v2"))
        >>> predictor.zero_shot(["The team won the final."], ["sports", "politics"])
        [('sports', 0.4...)]
    """

    def __init__(self, model, tokenizer=None, max_length=None, batch_size=32, threads=None):
        max_tokens = encoder_of(model).config.max_tokens
        super().__init__(tokenizer, getattr(model, "labels", None), max_length, batch_size, max_tokens)
        if threads:
            set_keras_threads(threads)
        self.model = model
        self.input_names = tuple(model.input)
        self.output_names = tuple(keras_outputs_spec(model))
        self._forward = tf.function(model, input_signature=input_signature(model), reduce_retracing=True)

    def forward(self, inputs):
        return keras_outputs(self._forward({name: inputs[name] for name in self.input_names}))
