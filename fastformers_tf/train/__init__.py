"""Training loops: teacher fine-tuning (`finetune`), fits evaluated several times an epoch with the best kept and
resumable after a kill (`resume`), AdamW (`optim`) and tf.distribute strategies (`distribute`).

Distillation is `fastformers_tf.distill`; pruning's re-distillation is `fastformers_tf.prune`.
"""
