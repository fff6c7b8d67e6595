"""Fixed-length padding vs dynamic (per-batch) padding, same model and batches."""

import time

import numpy as np

from fastformers_tf.backend import tf
from fastformers_tf.data.batching import batch_order, pad_batch
from fastformers_tf.models.encoder import input_signature


def time_padding(model, data, batch_size=32, fixed_length=256, repeats=3):
    """Seconds per pass over `data` (a `TaskData`) with fixed and dynamic padding.

    Both modes run the same batches (examples in file order: no length
    sorting, so the gain measured is from padding alone) through the same
    `tf.function`; each is warmed up once, then timed `repeats` times, and the
    median is kept.
    """
    forward = tf.function(model, input_signature=input_signature(model), reduce_retracing=True)
    order = batch_order(data.features.lengths, batch_size)
    with_segments = "segment_ids" in model.input

    def run(pad_to):
        for indices in order:
            forward(pad_batch(data.features, indices, data.pad_id, with_segments, pad_to=pad_to))

    results = {}
    for mode, pad_to in (("fixed", fixed_length), ("dynamic", None)):
        run(pad_to)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(pad_to)
            times.append(time.perf_counter() - start)
        results[mode] = float(np.median(times))
    lengths = data.features.lengths
    return {
        "examples": len(lengths),
        "batch_size": batch_size,
        "fixed_length": fixed_length,
        "mean_tokens": float(lengths.mean()),
        "mean_batch_width": float(np.mean([lengths[b].max() for b in order])),
        "fixed_s": results["fixed"],
        "dynamic_s": results["dynamic"],
        "speedup": results["fixed"] / results["dynamic"],
    }
