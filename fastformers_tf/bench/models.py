"""Side-by-side latency of several models on real texts, measured in one run.

Every model runs the same examples of a task split, one at a time (batch 1,
tokenized beforehand, padded to the example's own length), taking turns in
rounds so that a slow spell of a shared machine falls on all of them. The
result is each model's median and p90 latency and its speed-up over the first
model (the teacher): ratios from one run, on one machine.
"""

import numpy as np

from fastformers_tf.bench.timing import in_turns, latency, timed
from fastformers_tf.data.batching import padded_batches


def compare(predictors, features_of, examples=200, rounds=5, pause=0.2):
    """`{name: {"median_ms", "p90_ms", "speedup"}}` for `predictors` (name -> Predictor), the first the baseline.

    `features_of(predictor)` tokenizes the split with that predictor's
    tokenizer. Each round, every model in turn (`timing.in_turns`, after one
    untimed call) runs its share of the examples, each call timed alone.
    """
    inputs = {}
    for name, p in predictors.items():
        features = features_of(p)
        rows = np.arange(min(examples, len(features)))
        inputs[name] = [x for _, x in padded_batches(features, p.input_names, p.pad_id, 1, rows=rows, by_length=False)]

    def turn(name, round_):
        share = inputs[name][round_::rounds]
        forward = predictors[name].forward
        forward(share[0])  # untimed
        return [timed(forward, batch)[0] for batch in share]

    seconds = {name: sum(t, []) for name, t in in_turns(predictors, turn, rounds, pause).items()}
    base = next(iter(seconds.values()))
    return {name: latency(values, base) for name, values in seconds.items()}


def compare_folders(folders, examples, rounds=5, backend="keras", precision="fp32", threads=None, max_length=None):
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
