"""Distillation losses as small pure functions of tensors, and the student -> teacher layer map.

Shape letters as in `fastformers_tf.models`: B batch, T tokens, C classes,
N heads, D hidden width (Ds student, Dt teacher). Padding is excluded
everywhere through `padding_mask` `[B, T]` (1 for real tokens).
"""

from fastformers_tf.backend import keras, tf

_EPS = 1e-12


def soft_cross_entropy(teacher_logits, student_logits, temperature=1.0):
    """Mean over the batch of -sum_c softmax(t/T) log softmax(s/T), times T^2 (Hinton et al.).

    The T^2 keeps the gradient scale independent of T. It differs from KL(t || s)
    only by the teacher's entropy, a constant for the student.

    Args:
        teacher_logits: `[B, C]`.
        student_logits: `[B, C]`.
        temperature: T > 0.
    """
    teacher = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)  # [B, C]
    log_student = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)  # [B, C]
    return temperature**2 * tf.reduce_mean(-tf.reduce_sum(teacher * log_student, axis=-1))


def logit_loss(teacher_logits, student_logits, labels=None, temperature=1.0, alpha=0.0):
    """(1 - alpha) x soft cross-entropy + alpha x cross-entropy with the gold `labels` `[B]`.

    FastFormers uses T=1 and alpha=0 (soft labels only); `labels` may be None then.
    Examples labeled -1 (unlabeled transfer text) are left out of the gold term.
    """
    loss = soft_cross_entropy(teacher_logits, student_logits, temperature)
    if alpha == 0:
        return loss
    if labels is None:
        raise ValueError("alpha > 0 needs the gold labels.")
    labels = tf.cast(labels, tf.int32)
    labeled = tf.cast(labels >= 0, tf.float32)  # [B]; -1 marks a transfer example the teacher alone labels
    gold = keras.losses.sparse_categorical_crossentropy(
        tf.maximum(labels, 0), tf.cast(student_logits, tf.float32), from_logits=True
    )  # [B]
    gold = tf.reduce_sum(gold * labeled) / tf.maximum(tf.reduce_sum(labeled), 1.0)
    return (1.0 - alpha) * loss + alpha * gold


def _token_mean(values, padding_mask):
    """Mean of per-token `values` `[B, T]` over the real tokens."""
    mask = tf.cast(padding_mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def hidden_state_loss(student_hidden, teacher_hidden, padding_mask, projection=None, kind="mse"):
    """Distance between student and teacher hidden states over real tokens.

    Args:
        student_hidden: `[B, T, Ds]`.
        teacher_hidden: `[B, T, Dt]`.
        padding_mask: `[B, T]`.
        projection: a callable `[B, T, Ds] -> [B, T, Dt]` (a learnable Dense)
            when the widths differ; None when they are equal.
        kind: "mse" (mean over tokens and units of the squared difference)
            or "cosine" (mean over tokens of 1 - cosine similarity).
    """
    student = tf.cast(student_hidden, tf.float32)
    if projection is not None:
        student = projection(student)  # [B, T, Dt]
    teacher = tf.cast(teacher_hidden, tf.float32)
    if student.shape[-1] != teacher.shape[-1]:
        raise ValueError(f"Student width {student.shape[-1]} != teacher width {teacher.shape[-1]}: pass a projection.")
    if kind == "mse":
        per_token = tf.reduce_mean(tf.square(student - teacher), axis=-1)  # [B, T]
    elif kind == "cosine":
        per_token = 1.0 + keras.losses.cosine_similarity(teacher, student, axis=-1)  # [B, T]; Keras negates it
    else:
        raise ValueError(f"Unknown hidden-state loss {kind!r}; expected 'mse' or 'cosine'.")
    return _token_mean(per_token, padding_mask)


def attention_loss(student_probs, teacher_probs, padding_mask, kind="kl"):
    """Distance between attention probabilities over real query tokens; 0 for a student layer without heads.

    When the head counts differ, both sides are averaged over their heads first.

    Args:
        student_probs: `[B, Ns, T, T]` (Ns may be 0).
        teacher_probs: `[B, Nt, T, T]`.
        padding_mask: `[B, T]`.
        kind: "kl" (KL(teacher || student) per query row, summed over keys)
            or "mse" (mean squared difference per query row).
    """
    if student_probs.shape[1] == 0 or teacher_probs.shape[1] == 0:
        return tf.constant(0.0)
    student = tf.cast(student_probs, tf.float32)
    teacher = tf.cast(teacher_probs, tf.float32)
    if student.shape[1] != teacher.shape[1]:
        student = tf.reduce_mean(student, axis=1, keepdims=True)  # [B, 1, T, T]
        teacher = tf.reduce_mean(teacher, axis=1, keepdims=True)
    if kind == "kl":
        per_row = tf.reduce_sum(
            teacher * (tf.math.log(teacher + _EPS) - tf.math.log(student + _EPS)), axis=-1
        )  # [B, N, T]
    elif kind == "mse":
        per_row = tf.reduce_mean(tf.square(student - teacher), axis=-1)  # [B, N, T]
    else:
        raise ValueError(f"Unknown attention loss {kind!r}; expected 'kl' or 'mse'.")
    return _token_mean(tf.reduce_mean(per_row, axis=1), padding_mask)  # heads averaged, then real queries


def layer_map(student_layers, teacher_layers, mapping=None):
    """The teacher layer each student layer learns from (0-based).

    Uniform by default, as in the paper: student layer i -> teacher layer
    i*k + k - 1 with k = teacher_layers // student_layers (so the last student
    layer learns from a late teacher layer). `mapping` gives the list instead.
    """
    if mapping is None:
        if not 0 < student_layers <= teacher_layers:
            raise ValueError(f"Cannot map {student_layers} student layers onto {teacher_layers} teacher layers.")
        k = teacher_layers // student_layers
        return [i * k + k - 1 for i in range(student_layers)]
    mapping = [int(m) for m in mapping]
    if len(mapping) != student_layers or any(not 0 <= m < teacher_layers for m in mapping):
        raise ValueError(
            f"layer_map {mapping} must give one teacher layer in [0, {teacher_layers}) for each of the "
            f"{student_layers} student layers."
        )
    return mapping
