"""Compare an exported model with the Keras model it came from, on sample inputs."""

import numpy as np

from fastformers_tf.errors import UserError
from fastformers_tf.models.encoder import encoder_of
from fastformers_tf.models.span_classifier import SpanClassifier
from fastformers_tf.runtime.keras_predictor import keras_outputs

# Batch shapes other than any one traced shape: the exports have dynamic axes.
SAMPLE_SHAPES = ((3, 9), (1, 17))


class ParityError(UserError, ValueError):
    """An exported file's outputs differ from Keras beyond the tolerance."""


def sample_inputs(model, batch_size, seq_len, seed=0):
    """A deterministic numpy input batch for `model` (last example half padded)."""
    inputs = {k: v.numpy() for k, v in encoder_of(model).dummy_inputs(batch_size, seq_len, seed).items()}
    if isinstance(model, SpanClassifier):
        masks = np.zeros((batch_size, model.num_spans, seq_len), np.float32)  # [B, S, T]
        for s in range(model.num_spans):
            masks[:, s, 1 + s : 2 + 2 * s] = 1.0
        inputs["span_masks"] = masks
    return inputs


def compare(model, predictor, shapes=SAMPLE_SHAPES, seed=0):
    """`{"max_abs_diff", "argmax_agreement", "outputs"}` of `predictor` vs Keras over batches of `shapes`.

    `argmax_agreement` (classifiers only, else None) is the share of rows whose
    top class is the same.
    """
    worst, agree, rows = 0.0, 0, 0
    for batch_size, seq_len in shapes:
        inputs = sample_inputs(model, batch_size, seq_len, seed)
        expected = keras_outputs(model(inputs, training=False))
        got = predictor.forward(inputs)
        names = sorted(set(expected) & set(got))
        if not names:
            raise ParityError(f"No output names in common: Keras {sorted(expected)}, export {sorted(got)}.")
        for name in names:
            worst = max(worst, float(np.abs(got[name].astype(np.float32) - expected[name]).max()))
        if "logits" in names:
            agree += int((got["logits"].argmax(-1) == expected["logits"].argmax(-1)).sum())
            rows += batch_size
    return {
        "max_abs_diff": worst,
        "argmax_agreement": agree / rows if rows else None,
        "outputs": names,
    }


def check(model, predictor, atol, shapes=SAMPLE_SHAPES):
    """`compare(...)`, raising `ParityError` naming the file when the difference exceeds `atol`."""
    report = compare(model, predictor, shapes)
    if report["max_abs_diff"] > atol:
        raise ParityError(
            f"{predictor.path}: outputs {report['outputs']} differ from Keras by up to "
            f"{report['max_abs_diff']:.3g} (tolerance {atol:g}) on batch shapes {list(shapes)}."
        )
    return report
