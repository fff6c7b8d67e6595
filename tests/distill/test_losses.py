"""Each distillation loss against values computed by hand (numpy) on tiny tensors."""

import numpy as np
import pytest

from fastformers_tf.backend import keras
from fastformers_tf.distill.losses import attention_loss, hidden_state_loss, layer_map, logit_loss, soft_cross_entropy

TEACHER = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]], np.float32)  # [B=2, C=3]
STUDENT = np.array([[1.0, 0.5, 0.0], [0.0, 0.0, 1.0]], np.float32)
LABELS = np.array([0, 2])


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_soft_cross_entropy_is_scaled_by_t_squared(temperature):
    p = softmax(TEACHER / temperature)
    log_q = np.log(softmax(STUDENT / temperature))
    expected = temperature**2 * np.mean(-(p * log_q).sum(-1))
    assert float(soft_cross_entropy(TEACHER, STUDENT, temperature)) == pytest.approx(expected, rel=1e-6)
    assert float(soft_cross_entropy(TEACHER, TEACHER, temperature)) == pytest.approx(
        temperature**2 * np.mean(-(p * np.log(p)).sum(-1)), rel=1e-6
    )  # the minimum: the teacher's own entropy


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_logit_loss_mixes_in_the_gold_labels_with_alpha(alpha):
    soft = np.mean(-(softmax(TEACHER / 2) * np.log(softmax(STUDENT / 2))).sum(-1)) * 4
    gold = np.mean(-np.log(softmax(STUDENT)[np.arange(2), LABELS]))
    expected = (1 - alpha) * soft + alpha * gold
    assert float(logit_loss(TEACHER, STUDENT, LABELS, temperature=2.0, alpha=alpha)) == pytest.approx(expected, 1e-6)
    with pytest.raises(ValueError, match="alpha > 0 needs the gold labels"):
        logit_loss(TEACHER, STUDENT, None, alpha=0.5)


def test_unlabeled_examples_are_left_out_of_the_gold_term():
    # Row 1 is a transfer example only the teacher labels (-1): the gold term is row 0's alone.
    soft = np.mean(-(softmax(TEACHER) * np.log(softmax(STUDENT))).sum(-1))
    gold = -np.log(softmax(STUDENT)[0, LABELS[0]])
    labels = np.array([LABELS[0], -1])
    assert float(logit_loss(TEACHER, STUDENT, labels, alpha=0.5)) == pytest.approx(0.5 * soft + 0.5 * gold, 1e-6)
    all_unlabeled = float(logit_loss(TEACHER, STUDENT, np.array([-1, -1]), alpha=0.5))
    assert all_unlabeled == pytest.approx(0.5 * soft, 1e-6)


def test_hidden_state_loss_with_and_without_projection_skips_padding():
    rng = np.random.default_rng(0)
    student = rng.normal(size=(2, 3, 4)).astype(np.float32)  # [B, T, Ds]
    teacher = rng.normal(size=(2, 3, 4)).astype(np.float32)
    mask = np.array([[1, 1, 0], [1, 0, 0]], np.int32)
    real = mask.astype(bool)
    mse = np.mean(((student - teacher) ** 2).mean(-1)[real])
    assert float(hidden_state_loss(student, teacher, mask)) == pytest.approx(mse, rel=1e-6)
    cosine = (student * teacher).sum(-1) / np.linalg.norm(student, axis=-1) / np.linalg.norm(teacher, axis=-1)
    assert float(hidden_state_loss(student, teacher, mask, kind="cosine")) == pytest.approx(
        np.mean(1 - cosine[real]), rel=1e-5
    )

    wide = rng.normal(size=(2, 3, 6)).astype(np.float32)  # Dt = 6: a projection 4 -> 6
    projection = keras.layers.Dense(6, kernel_initializer=keras.initializers.RandomNormal(seed=1))
    projection.build((None, None, 4))
    kernel, bias = projection.get_weights()
    expected = np.mean(((student @ kernel + bias - wide) ** 2).mean(-1)[real])
    assert float(hidden_state_loss(student, wide, mask, projection)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="Student width 4 != teacher width 6: pass a projection"):
        hidden_state_loss(student, wide, mask)


def test_attention_loss_kl_mse_head_averaging_and_zero_heads():
    rng = np.random.default_rng(1)
    mask = np.array([[1, 1, 0]], np.int32)  # [B=1, T=3]
    keys = np.where(mask[:, None, None, :] == 1, 0.0, -1e9)

    def probs(heads):
        return softmax(rng.normal(size=(1, heads, 3, 3)) + keys).astype(np.float32)  # [B, N, T, T]

    student, teacher = probs(2), probs(2)
    kl = (teacher * (np.log(teacher + 1e-12) - np.log(student + 1e-12))).sum(-1)  # [B, N, T]
    assert float(attention_loss(student, teacher, mask)) == pytest.approx(kl.mean(1)[0, :2].mean(), rel=1e-5)
    mse = ((student - teacher) ** 2).mean(-1).mean(1)[0, :2].mean()
    assert float(attention_loss(student, teacher, mask, kind="mse")) == pytest.approx(mse, rel=1e-5)

    teacher4 = probs(4)  # 2 student heads vs 4 teacher heads: both averaged over heads
    s, t = student.mean(1), teacher4.mean(1)
    kl = (t * (np.log(t + 1e-12) - np.log(s + 1e-12))).sum(-1)[0, :2].mean()
    assert float(attention_loss(student, teacher4, mask)) == pytest.approx(kl, rel=1e-5)
    assert float(attention_loss(np.zeros((1, 0, 3, 3), np.float32), teacher4, mask)) == 0.0  # a pruned layer


def test_layer_map_is_uniform_by_default_and_checks_a_given_one():
    assert layer_map(6, 12) == [1, 3, 5, 7, 9, 11]
    assert layer_map(3, 6) == [1, 3, 5] and layer_map(4, 4) == [0, 1, 2, 3]
    assert layer_map(3, 12, [0, 5, 11]) == [0, 5, 11]
    with pytest.raises(ValueError, match=r"layer_map \[0, 12\] must give one teacher layer in \[0, 12\)"):
        layer_map(2, 12, [0, 12])
    with pytest.raises(ValueError, match="Cannot map 7 student layers onto 6"):
        layer_map(7, 6)
