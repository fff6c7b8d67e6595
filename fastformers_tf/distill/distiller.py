"""`Distiller`: a frozen teacher and a trainable student in one `keras.Model` with its own `train_step`.

Because it is a `keras.Model`, `fit` brings callbacks, the progress bar,
TensorBoard and `tf.distribute` strategies; the student it trains stays a
plain task model that saves and exports like any other.
"""

from fastformers_tf.backend import keras, tf
from fastformers_tf.distill import losses
from fastformers_tf.distill.losses import attention_loss, hidden_state_loss, logit_loss
from fastformers_tf.models.encoder import encoder_of

TEACHER_LOGITS = "teacher_logits"
INTERMEDIATE = {"output_hidden_states": True, "output_attentions": True}


def _with_intermediate(model):
    """`(model with hidden states and attentions on, keras.Model: inputs -> logits, hidden_states, attention_probs)`.

    The task model is rebuilt around an encoder that outputs them (weights
    copied); the second model shares its layers and reads the encoder call's
    outputs inside the task model's graph, so one forward pass gives all.
    """
    encoder = encoder_of(model)
    if not (encoder.output_hidden_states and encoder.output_attentions):
        model = model.with_encoder(encoder.with_options(**INTERMEDIATE))
        encoder = model.encoder
    outputs = encoder._inbound_nodes[-1].outputs  # the call inside `model`'s graph
    features = keras.Model(model.input, [model.output, outputs["hidden_states"], outputs["attention_probs"]])
    return model, features


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
        alpha: weight of the gold-label cross-entropy (unlabeled examples,
            label -1, are left out of it).
        hidden_weight: weight of the hidden-state loss between each student
            layer's output and its mapped teacher layer's (`hidden_loss`: "mse"
            or "cosine"; a learnable projection, not part of the student, when
            widths differ).
        attention_weight: weight of the attention-probability loss
            (`attention_loss`: "kl" or "mse"; heads averaged when counts differ,
            layers with zero heads skipped).
        layer_map: teacher layer of each student layer; None: uniform.
        logit_weight: weight of the logit loss (0: intermediate losses only,
            TinyBERT's first stage).

    With intermediate losses the teacher runs in every step and both models
    must share a tokenizer; `plain_student()` is then the trained student
    without the extra outputs.

    Example:
        >>> distiller = Distiller(teacher, student)
        >>> distiller.compile(optimizer=adamw(...))
        >>> distiller.fit(dataset, epochs=3)
        >>> save_model(distiller.plain_student(), "runs/rte/distill/best")
    """

    def __init__(
        self,
        teacher,
        student,
        temperature=1.0,
        alpha=0.0,
        hidden_weight=0.0,
        attention_weight=0.0,
        hidden_loss="mse",
        attention_loss="kl",
        layer_map=None,
        logit_weight=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if teacher is not None and teacher.output.shape[-1] != student.output.shape[-1]:
            raise ValueError(
                f"The teacher gives {teacher.output.shape[-1]} logits and the student "
                f"{student.output.shape[-1]}: they must classify the same labels."
            )
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise ValueError(f"temperature must be > 0 and alpha in [0, 1], got {temperature} and {alpha}.")
        self.intermediate = hidden_weight > 0 or attention_weight > 0
        if self.intermediate and teacher is None:
            raise ValueError("Hidden-state and attention losses need the teacher in the loop, not cached logits.")
        if teacher is not None:
            teacher.trainable = False
        self.temperature, self.alpha, self.logit_weight = temperature, alpha, logit_weight
        self.hidden_weight, self.attention_weight = hidden_weight, attention_weight
        self.hidden_loss, self.attention_loss = hidden_loss, attention_loss
        self.projection = None
        if self.intermediate:
            student, self.student_features = _with_intermediate(student)
            teacher, self.teacher_features = _with_intermediate(teacher)
            teacher.trainable = False
            s_config, t_config = encoder_of(student).config, encoder_of(teacher).config
            self.student_heads, self.teacher_heads = s_config.num_heads, t_config.num_heads
            self.layer_map = losses.layer_map(s_config.num_layers, t_config.num_layers, layer_map)
            if hidden_weight > 0 and s_config.hidden_dim != t_config.hidden_dim:
                self.projection = keras.layers.Dense(t_config.hidden_dim, name="hidden_projection")
        self.teacher, self.student = teacher, student
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def plain_student(self):
        """The student as a plain task model (no hidden-state/attention outputs)."""
        if not self.intermediate:
            return self.student
        encoder = encoder_of(self.student)
        return self.student.with_encoder(encoder.with_options(output_hidden_states=False, output_attentions=False))

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

    def _intermediate_loss(self, inputs, training):
        """`(teacher logits, student logits, weighted hidden-state + attention losses over the mapped layers)`."""
        t_logits, t_hidden, t_probs = self.teacher_features({k: inputs[k] for k in self.teacher.input}, training=False)
        logits, s_hidden, s_probs = self.student_features({k: inputs[k] for k in self.student.input}, training=training)
        mask = inputs["padding_mask"]
        loss = 0.0
        for i, t in enumerate(self.layer_map):
            if self.hidden_weight:
                # hidden_states[0] is the embeddings: layer i's output is [i + 1].
                loss += self.hidden_weight * hidden_state_loss(
                    s_hidden[i + 1], tf.stop_gradient(t_hidden[t + 1]), mask, self.projection, self.hidden_loss
                )
            if self.attention_weight:
                # Head counts made static: the functional graph leaves them unknown.
                student_probs = tf.ensure_shape(s_probs[i], [None, self.student_heads[i], None, None])
                teacher_probs = tf.ensure_shape(t_probs[t], [None, self.teacher_heads[t], None, None])
                loss += self.attention_weight * attention_loss(
                    student_probs, tf.stop_gradient(teacher_probs), mask, self.attention_loss
                )
        return inputs.get(TEACHER_LOGITS, t_logits), logits, loss

    def _loss(self, inputs, labels, training):
        if self.intermediate:
            teacher_logits, student_logits, extra = self._intermediate_loss(inputs, training)  # [B, C] x2, scalar
        else:
            teacher_logits, student_logits, extra = self._teacher_logits(inputs), self(inputs, training=training), 0.0
        teacher_logits = tf.stop_gradient(teacher_logits)
        loss = self.logit_weight * logit_loss(teacher_logits, student_logits, labels, self.temperature, self.alpha)
        loss += extra
        # Under a strategy each replica's gradient is summed: scale to the global batch mean.
        return loss / tf.distribute.get_strategy().num_replicas_in_sync

    def train_step(self, data):
        inputs, labels = data
        with tf.GradientTape() as tape:
            loss = self._loss(inputs, labels, training=True)
        weights = self.student.trainable_weights + (self.projection.trainable_weights if self.projection else [])
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
