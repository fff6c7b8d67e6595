"""`Distiller`: a frozen teacher and a trainable student in one `keras.Model` with its own `train_step`.

Because it is a `keras.Model`, `fit` brings callbacks, the progress bar,
TensorBoard and `tf.distribute` strategies; the student it trains stays a
plain task model that saves and exports like any other.
"""

from fastformers_tf.backend import keras, tf
from fastformers_tf.distill.losses import logit_loss

TEACHER_LOGITS = "teacher_logits"


class Distiller(keras.Model):
    """Trains `student` on `teacher`'s soft labels (FastFormers: T=1, alpha=0).

    A batch is `(inputs, labels)` where `inputs` holds the student's inputs
    and, optionally, `teacher_logits` `[B, C]` (cached teacher outputs, which
    also allow a teacher with another tokenizer); without them the teacher
    runs on the same inputs. Only the student's weights are trained.

    Args:
        teacher: a task model (frozen here).
        student: a task model with the same number of classes.
        temperature: T of the soft cross-entropy.
        alpha: weight of the gold-label cross-entropy.

    Example:
        >>> distiller = Distiller(teacher, student)
        >>> distiller.compile(optimizer=adamw(...))
        >>> distiller.fit(dataset, epochs=3)
        >>> save_model(distiller.student, "runs/rte/distill/best")
    """

    def __init__(self, teacher, student, temperature=1.0, alpha=0.0, **kwargs):
        super().__init__(**kwargs)
        if teacher is not None and teacher.output.shape[-1] != student.output.shape[-1]:
            raise ValueError(
                f"The teacher gives {teacher.output.shape[-1]} logits and the student "
                f"{student.output.shape[-1]}: they must classify the same labels."
            )
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise ValueError(f"temperature must be > 0 and alpha in [0, 1], got {temperature} and {alpha}.")
        self.teacher, self.student = teacher, student
        if teacher is not None:
            teacher.trainable = False
        self.temperature, self.alpha = temperature, alpha
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def _teacher_logits(self, inputs):
        if TEACHER_LOGITS in inputs:
            return inputs[TEACHER_LOGITS]
        if self.teacher is None:
            raise ValueError(f"No teacher and no `{TEACHER_LOGITS}` in the batch.")
        return self.teacher({k: inputs[k] for k in self.teacher.input}, training=False)

    def call(self, inputs, training=False):
        return self.student({k: inputs[k] for k in self.student.input}, training=training)

    def _loss(self, inputs, labels, training):
        teacher_logits = tf.stop_gradient(self._teacher_logits(inputs))  # [B, C]
        student_logits = self(inputs, training=training)  # [B, C]
        loss = logit_loss(teacher_logits, student_logits, labels, self.temperature, self.alpha)
        # Under a strategy each replica's gradient is summed: scale to the global batch mean.
        return loss / tf.distribute.get_strategy().num_replicas_in_sync

    def train_step(self, data):
        inputs, labels = data
        with tf.GradientTape() as tape:
            loss = self._loss(inputs, labels, training=True)
        weights = self.student.trainable_weights
        # Weights off the logits' path (the pooler of a mean-pooling student) get no gradient.
        pairs = [(g, w) for g, w in zip(tape.gradient(loss, weights), weights, strict=True) if g is not None]
        self.optimizer.apply_gradients(pairs)
        self.loss_tracker.update_state(loss * tf.distribute.get_strategy().num_replicas_in_sync)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        inputs, labels = data
        loss = self._loss(inputs, labels, training=False)
        self.loss_tracker.update_state(loss * tf.distribute.get_strategy().num_replicas_in_sync)
        return {"loss": self.loss_tracker.result()}
