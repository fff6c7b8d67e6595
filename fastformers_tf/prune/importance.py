"""First-order importance of each attention head and FFN unit (Michel et al. 2019; FastFormers).

The model is rebuilt with `mask_inputs=True`: a mask `xi` that multiplies each
head's attention probabilities and each FFN unit's activation, all ones. For
every example `x` the loss gradient `dL(x)/dxi` is taken with
`tf.GradientTape` and the score of a head or unit is the mean over examples
of `|dL(x)/dxi|`: the first-order estimate of how much the loss changes when
that head or unit is removed. The mask has one row per example, so the
gradient is per example (the expectation of Michel et al.), not the gradient
of the batch's summed loss.

The loss is either the task loss with gold labels (`loss="gold"`) or the KL
divergence to a teacher's logits (`loss="teacher"`), which needs no labels.
Head scores may be divided by their layer's L2 norm (the paper's default), so
that layers compare on one scale in a global ranking.
"""

import dataclasses

import numpy as np

from fastformers_tf.backend import tf
from fastformers_tf.data.batching import batch_order
from fastformers_tf.models.encoder import encoder_of
from fastformers_tf.models.task_model import TaskModel
from fastformers_tf.progress import bar

FLAT = 1e-6  # no score above this: the loss does not depend on the masks


@dataclasses.dataclass
class Scores:
    """Importance per layer: `heads[l]` `[N_l]`, `ffn[l]` `[F_l]` (lists of floats), and how they were made."""

    heads: list
    ffn: list
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.heads = [np.asarray(h, np.float64) for h in self.heads]
        self.ffn = [np.asarray(f, np.float64) for f in self.ffn]

    def to_dict(self):
        return {"heads": [h.tolist() for h in self.heads], "ffn": [f.tolist() for f in self.ffn], "info": self.info}


def normalize_by_layer(values):
    """Each layer's scores divided by their L2 norm (layers with no score, or all zero, unchanged)."""
    return [v / np.linalg.norm(v) if v.size and np.linalg.norm(v) > 0 else v for v in values]


def with_masks(model):
    """A copy of a task model whose encoder takes `head_mask` and `ffn_mask` inputs (same weights)."""
    if not isinstance(model, TaskModel):
        raise TypeError(f"Importance needs a task model (logits for a loss), got {type(model).__name__}.")
    return model.with_encoder(encoder_of(model).with_options(mask_inputs=True))


def per_example_loss(logits, labels=None, teacher_logits=None):
    """`[B]` losses: cross-entropy with gold `labels`, or KL(softmax(teacher) || softmax(logits))."""
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # [B, C]
    if teacher_logits is None:
        gold = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(logits)[-1], dtype=logits.dtype)  # [B, C]
        return -tf.reduce_sum(gold * log_probs, axis=-1)
    teacher_log_probs = tf.nn.log_softmax(tf.cast(teacher_logits, logits.dtype), axis=-1)  # [B, C]
    return tf.reduce_sum(tf.exp(teacher_log_probs) * (teacher_log_probs - log_probs), axis=-1)


def importance(model, data, batch_size=32, teacher_logits=None, labels=None, normalize_heads=True, progress=True):
    """Scores every head and FFN unit of `model` over `data` (a `TaskData`); returns `Scores`.

    Args:
        model: a task model (not changed).
        data: the examples to score on; their gold labels are used unless
            `teacher_logits` (`[n, C]`, in `data`'s example order) is given.
        batch_size: examples per forward/backward pass.
        teacher_logits: use the KL to these instead of the gold labels.
        labels: `[n]` class ids to use instead of the gold labels (e.g. a
            model's own predictions: the KL to its own logits is flat, its
            gradient zero, so a model scored against itself needs these).
        normalize_heads: divide each layer's head scores by their L2 norm.
        progress: show a Keras progress bar over batches.
    """
    masked = with_masks(model)
    config = encoder_of(model).config
    num_heads, num_units = sum(config.num_heads), sum(config.intermediate_dim)
    given = labels is not None
    labels = np.asarray(labels if given else data.features.labels)
    if len(labels) != len(data):
        raise ValueError(f"{len(labels)} labels for {len(data)} examples.")
    if teacher_logits is None and (labels < 0).any():
        raise ValueError(f"{data.path} ({data.split}) has unlabeled examples: score with a teacher's logits instead.")
    if teacher_logits is not None and len(teacher_logits) != len(data):
        raise ValueError(f"{len(teacher_logits)} teacher logits for {len(data)} examples.")
    targets = np.asarray(teacher_logits if teacher_logits is not None else labels)

    @tf.function(reduce_retracing=True)
    def step(inputs, target):
        batch = tf.shape(inputs["token_ids"])[0]
        head_mask, ffn_mask = tf.ones((batch, num_heads)), tf.ones((batch, num_units))  # [B, sum N], [B, sum F]
        with tf.GradientTape() as tape:
            tape.watch([head_mask, ffn_mask])
            logits = masked({**inputs, "head_mask": head_mask, "ffn_mask": ffn_mask}, training=False)  # [B, C]
            if teacher_logits is None:
                loss = per_example_loss(logits, labels=target)
            else:
                loss = per_example_loss(logits, teacher_logits=target)
            total = tf.reduce_sum(loss)  # example b's loss depends on mask row b alone: per-example gradients
        grads = tape.gradient(total, [head_mask, ffn_mask], unconnected_gradients="zero")
        return [tf.reduce_sum(tf.abs(g), axis=0) for g in grads]  # [sum N], [sum F]

    head_total, unit_total = np.zeros(num_heads), np.zeros(num_units)
    batches = batch_order(data.features.lengths, batch_size)
    for indices in bar(batches, desc="importance", unit="batch", quiet=not progress):
        inputs = {k: tf.constant(v) for k, v in data.batch_inputs(masked, indices).items()}
        heads, units = step(inputs, tf.constant(targets[indices]))
        head_total += heads.numpy()
        unit_total += units.numpy()
    # Float noise of a flat loss is ~1e-7; a trained model's largest score is ~1e-2 (MiniLM on SST-2: 0.055).
    if num_heads + num_units and max(head_total.max(initial=0), unit_total.max(initial=0)) / len(data) < FLAT:
        raise ValueError(
            f"Every importance score is below {FLAT:g}: the loss is flat in every head and unit (scoring a "
            "model against its own logits? Use labels, or another teacher)."
        )
    head_scores = np.split(head_total / len(data), np.cumsum(config.num_heads)[:-1])
    unit_scores = np.split(unit_total / len(data), np.cumsum(config.intermediate_dim)[:-1])
    if normalize_heads:
        head_scores = normalize_by_layer(head_scores)
    loss = "teacher" if teacher_logits is not None else "labels" if given else "gold"
    info = {"loss": loss, "split": data.split, "examples": len(data), "normalized_heads": bool(normalize_heads)}
    return Scores(head_scores, unit_scores, info)
