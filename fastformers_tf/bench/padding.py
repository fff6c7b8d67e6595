"""Fixed-length padding vs dynamic (per-batch) padding, same model and batches."""

import numpy as np

from fastformers_tf.backend import tf
from fastformers_tf.bench.timing import in_turns, timed
from fastformers_tf.data.batching import batch_order, pad_batch
from fastformers_tf.models.encoder import input_signature


def time_padding(model, data, batch_size=32, fixed_length=256, repeats=3):
    """Seconds per pass over `data` (a `TaskData`) in three modes, one process.

    "fixed": file-order batches padded to `fixed_length`; "dynamic": the same
    batches padded to their own longest row (the gain from padding alone);
    "sorted": batches of length-sorted examples padded per batch (what
    `TaskData.predict_probs` and the predictors do). Same model, same
    `tf.function`, same batch size; the modes take turns `repeats` times
    (`timing.in_turns`), each warmed up once, and the median is kept.
    """
    forward = tf.function(model, input_signature=input_signature(model), reduce_retracing=True)
    lengths = data.features.lengths
    file_order = batch_order(lengths, batch_size)
    sorted_order = batch_order(lengths, batch_size, bucket_window=len(lengths))
    with_segments = "segment_ids" in model.input

    def run(order, pad_to):
        for indices in order:
            forward(pad_batch(data.features, indices, data.pad_id, with_segments, pad_to=pad_to))

    modes = {"fixed": (file_order, fixed_length), "dynamic": (file_order, None), "sorted": (sorted_order, None)}

    def turn(mode, round_):
        if round_ == 0:
            run(*modes[mode])  # untimed: traces the shapes
        return timed(run, *modes[mode])[0]

    results = {mode: float(np.median(t)) for mode, t in in_turns(modes, turn, repeats, pause=0.2).items()}
    return {
        "examples": len(lengths),
        "batch_size": batch_size,
        "fixed_length": fixed_length,
        "mean_tokens": float(lengths.mean()),
        "mean_batch_width_dynamic": float(np.mean([lengths[b].max() for b in file_order])),
        "mean_batch_width_sorted": float(np.mean([lengths[b].max() for b in sorted_order])),
        **{f"{mode}_s": seconds for mode, seconds in results.items()},
        "speedup_dynamic": results["fixed"] / results["dynamic"],
        "speedup_sorted": results["fixed"] / results["sorted"],
    }
