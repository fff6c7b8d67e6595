"""Knowledge distillation: losses (pure functions), the `Distiller` (a custom `train_step`),
cached teacher logits, transfer sets, students, and the `distill(recipe)` stage."""

from fastformers_tf._lazy import lazy_exports

# Lazy so that `import fastformers_tf` (which imports this package) loads no TensorFlow.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Distiller": "fastformers_tf.distill.distiller",
        "distill": "fastformers_tf.distill.run",
        "keep_layers": "fastformers_tf.distill.students",
        "reshape": "fastformers_tf.distill.students",
        "teacher_logits": "fastformers_tf.distill.cache",
    },
)

__all__ = ["Distiller", "distill", "keep_layers", "reshape", "teacher_logits"]
