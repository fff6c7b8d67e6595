"""Side-by-side latency of several models on real texts, measured in one run.

Every model runs the same examples of a task split, one at a time (batch 1,
tokenized beforehand, padded to the example's own length), taking turns in
rounds so that a slow spell of a shared machine falls on all of them. The
result is each model's median and p90 latency and its speed-up over the first
model (the teacher): ratios from one run, on one machine.
"""

import time

import numpy as np

from fastformers_tf.bench.timing import timings
from fastformers_tf.data.batching import pad_batch


def single_inputs(predictor, features, count):
    """The first `count` rows of `features` as batch-1 inputs of `predictor`."""
    with_segments = "segment_ids" in predictor.input_names
    names = predictor.input_names
    return [
        {k: v for k, v in pad_batch(features, [i], predictor.pad_id, with_segments).items() if k in names}
        for i in range(min(count, len(features)))
    ]


def compare(predictors, features_of, examples=200, rounds=5, pause=0.2):
    """`{name: {"median_ms", "p90_ms", "speedup"}}` for `predictors` (name -> Predictor), the first the baseline.

    `features_of(predictor)` tokenizes the split with that predictor's
    tokenizer. Each round, every model in turn (after `pause` seconds and one
    untimed call) runs its share of the examples, each call timed alone.
    """
    inputs = {name: single_inputs(p, features_of(p), examples) for name, p in predictors.items()}
    seconds = {name: [] for name in predictors}
    for round_ in range(rounds):
        for name, predictor in predictors.items():
            share = inputs[name][round_::rounds]
            time.sleep(pause)
            seconds[name].extend(timings(predictor.forward, share[0], 0, warmup=1))
            for batch in share:
                seconds[name].extend(timings(predictor.forward, batch, 1, warmup=0))
    base = float(np.median(next(iter(seconds.values()))))
    return {
        name: {
            "median_ms": round(1e3 * float(np.median(values)), 3),
            "p90_ms": round(1e3 * float(np.percentile(values, 90)), 3),
            "speedup": round(base / float(np.median(values)), 2),
        }
        for name, values in seconds.items()
    }


def compare_folders(folders, examples, rounds=5, backend="keras", precision="fp32", threads=None,
                    max_length=None):  # fmt: skip
    """`compare` over model or export folders on task `examples` (batch 1), the first folder the baseline."""
    from fastformers_tf.runtime.load import load_predictor

    predictors = {
        folder: load_predictor(folder, backend, precision, threads=threads, batch_size=1, max_length=max_length)
        for folder in folders
    }
    pairs = examples[0].text_b is not None

    def features_of(predictor):
        return predictor.tokenize([e.text_a for e in examples], [e.text_b for e in examples] if pairs else None)

    return compare(predictors, features_of, len(examples), rounds)
