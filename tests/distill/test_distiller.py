"""The Distiller trains only the student, with or without cached teacher logits."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fastformers_tf.backend import keras
from fastformers_tf.distill.distiller import Distiller
from fastformers_tf.distill.losses import soft_cross_entropy
from fastformers_tf.models import TextClassifier
from tests import tiny


def models():
    teacher = tiny.classifier(num_classes=3, seed=0)
    encoder = tiny.randomize(tiny.encoder(num_layers=2, dropout=0.0, attention_dropout=0.0), seed=5)
    student = TextClassifier(encoder, num_classes=3, pooling="mean", dropout=0.0)  # no dropout: a loss to predict
    return teacher, student


def batch(model, seed=0):
    inputs = {k: v.numpy() for k, v in model.encoder.dummy_inputs(4, 9, seed=seed).items()}
    return inputs, np.array([0, 1, 2, 1], np.int32)


def test_one_fit_step_changes_only_the_student_and_reports_the_soft_loss():
    teacher, student = models()
    inputs, labels = batch(student)
    expected = float(soft_cross_entropy(teacher(inputs), student(inputs)))
    teacher_before = [w.copy() for w in teacher.get_weights()]
    student_before = [w.copy() for w in student.get_weights()]
    distiller = Distiller(teacher, student)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    history = distiller.fit(inputs, labels, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(teacher.get_weights(), teacher_before, strict=True))
    changed = [not np.array_equal(a, b) for a, b in zip(student.get_weights(), student_before, strict=True)]
    assert sum(changed) > len(changed) // 2


def test_cached_teacher_logits_replace_the_teacher():
    teacher, student = models()
    inputs, labels = batch(student)
    cached = {**inputs, "teacher_logits": teacher(inputs).numpy()}
    without = Distiller(None, student)  # no teacher at all: it must not be needed
    without.compile(optimizer=keras.optimizers.SGD(0.0))
    loss = without.evaluate(cached, labels, batch_size=4, verbose=0)
    assert loss == pytest.approx(float(soft_cross_entropy(cached["teacher_logits"], student(inputs))), rel=1e-5)
    with pytest.raises(ValueError, match="No teacher and no `teacher_logits`"):
        without.evaluate(inputs, labels, batch_size=4, verbose=0)


def test_a_teacher_of_other_labels_is_refused():
    teacher, _ = models()
    student = TextClassifier(tiny.encoder(num_layers=1), num_classes=2)
    with pytest.raises(ValueError, match="teacher gives 3 logits and the student 2"):
        Distiller(teacher, student)


MIRRORED = """
from fastformers_tf.backend import keras, tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from fastformers_tf.distill.distiller import Distiller
from tests.distill.test_distiller import batch, models

losses = []
for strategy in (tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        teacher, student = models()
        distiller = Distiller(teacher, student)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    inputs, labels = batch(student)
    history = distiller.fit(inputs, labels, batch_size=4, epochs=1, verbose=0, shuffle=False)
    losses.append((strategy.num_replicas_in_sync, history.history["loss"][0]))
print(repr(losses))
"""


def test_mirrored_strategy_over_two_cpus_gives_the_same_first_step_loss():
    # Logical CPU devices can only be made before TensorFlow starts: in a fresh process.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (replicas, single), (mirrored_replicas, mirrored) = eval(result.stdout.strip().splitlines()[-1])
    assert (replicas, mirrored_replicas) == (1, 2) and mirrored == pytest.approx(single, rel=1e-5)


def test_intermediate_losses_add_the_mapped_layers_hidden_and_attention_terms():
    from fastformers_tf.distill.losses import attention_loss, hidden_state_loss, logit_loss
    from fastformers_tf.models.encoder import encoder_of

    teacher, student = models()  # teacher: 3 layers, heads [2, 3, 0]; student: 2 layers of 4 heads, same width
    inputs, labels = batch(student)
    distiller = Distiller(teacher, student, hidden_weight=0.5, attention_weight=2.0, layer_map=[0, 2])
    assert distiller.projection is None  # equal widths: no projection
    t_out = encoder_of(distiller.teacher)(inputs)
    s_out = encoder_of(distiller.student)(inputs)
    mask = inputs["padding_mask"]
    expected = float(logit_loss(teacher(inputs), student(inputs)))
    expected += 0.5 * float(hidden_state_loss(s_out["hidden_states"][1], t_out["hidden_states"][1], mask))
    expected += 0.5 * float(hidden_state_loss(s_out["hidden_states"][2], t_out["hidden_states"][3], mask))
    expected += 2.0 * float(attention_loss(s_out["attention_probs"][0], t_out["attention_probs"][0], mask))
    assert float(attention_loss(s_out["attention_probs"][1], t_out["attention_probs"][2], mask)) == 0.0  # no heads
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    history = distiller.fit(inputs, labels, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    plain = distiller.plain_student()
    assert not plain.encoder.output_hidden_states
    np.testing.assert_allclose(plain(inputs), distiller.student(inputs), atol=1e-6)


def test_a_narrower_student_learns_a_projection_that_is_not_part_of_it():
    teacher, _ = models()
    student = TextClassifier(tiny.encoder(num_layers=1, hidden_dim=16, head_dim=4), num_classes=3, pooling="mean")
    inputs, labels = batch(student)
    distiller = Distiller(teacher, student, hidden_weight=1.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    distiller.fit(inputs, labels, batch_size=4, epochs=1, verbose=0)
    assert distiller.projection.kernel.shape == (16, 32)
    assert not any("projection" in w.name for w in distiller.plain_student().weights)
