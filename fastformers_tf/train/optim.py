"""AdamW with linear warmup and linear decay, the BERT fine-tuning schedule."""

from fastformers_tf.backend import keras, tf

# Variables kept out of weight decay: biases and LayerNorm scales/offsets.
NO_DECAY = ["bias", "gamma", "beta"]


@keras.saving.register_keras_serializable(package="fastformers_tf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> `peak` over `warmup_steps`, then linearly to 0 at `total_steps`.

    Example:
        >>> schedule = WarmupLinearDecay(1e-4, total_steps=100, warmup_steps=10)
        >>> float(schedule(5)), float(schedule(10)), float(schedule(100))
        (5e-05, 0.0001, 0.0)
    """

    def __init__(self, peak, total_steps, warmup_steps):
        self.peak = peak
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = step / max(1, self.warmup_steps)
        decay = (self.total_steps - step) / max(1, self.total_steps - self.warmup_steps)
        return self.peak * tf.clip_by_value(tf.minimum(warmup, decay), 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


def adamw(learning_rate, total_steps, warmup_ratio=0.1, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6):
    """`keras.optimizers.AdamW` (bias-corrected) on a `WarmupLinearDecay` schedule, no decay on biases/LayerNorms."""
    schedule = WarmupLinearDecay(learning_rate, total_steps, int(round(warmup_ratio * total_steps)))
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
    )
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    return optimizer


def adamw_of(cfg, total_steps):
    """`adamw` with a recipe section's settings (`finetune` or `distill`: learning rate, warmup, decay, Adam's)."""
    return adamw(
        cfg.learning_rate,
        total_steps,
        cfg.warmup_ratio,
        cfg.weight_decay,
        cfg.adam_beta1,
        cfg.adam_beta2,
        cfg.adam_epsilon,
    )
