import numpy as np

from fastformers_tf.backend import keras
from fastformers_tf.train.optim import WarmupLinearDecay, adamw


def test_schedule_warms_up_then_decays_linearly():
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(s)) for s in (0, 5, 10, 55, 100, 120)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)


def test_adamw_skips_decay_for_biases_and_layer_norms():
    dense = keras.layers.Dense(3)
    norm = keras.layers.LayerNormalization()
    dense.build((None, 4))
    norm.build((None, 3))
    optimizer = adamw(1e-3, total_steps=10, weight_decay=0.1)
    variables = dense.trainable_variables + norm.trainable_variables
    optimizer.build(variables)
    decayed = {v.name.split("/")[-1].split(":")[0] for v in variables if optimizer._use_weight_decay(v)}
    assert decayed == {"kernel"}
