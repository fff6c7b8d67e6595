"""Training loops: teacher fine-tuning (distillation comes next)."""
