"""Knowledge distillation: losses (pure functions) and the `Distiller` (a custom `train_step`).

Built so far: the losses and a logits-only `Distiller` (cached teacher logits
optional). Not yet: hidden-state/attention losses in the Distiller, the
on-disk teacher-logit cache, transfer sets, students, `tools/distill.py`.
"""
