"""Timing, in one place: one timed call, repeated calls, and contestants taking turns.

Every benchmark of the package times through here: the main job's candidates
(`compress.benchmark`), backends (`bench.backends`), models side by side
(`bench.models`, the pruning sweep), padding modes (`bench.padding`) and whole
commands (`tools/bench_score.py`). Contestants take turns, round after round,
each turn after a pause: a slow spell of a shared machine (other tenants, clock
changes) falls on all of them instead of one, and the thread pools of the one
before (onnxruntime, TensorFlow and XNNPACK spin-wait after a call) are asleep.
"""

import time

import numpy as np


def timed(call, *args):
    """`(seconds, result)` of one call of `call(*args)`."""
    start = time.perf_counter()
    result = call(*args)
    return time.perf_counter() - start, result


def timings(forward, inputs, iterations, warmup=3):
    """Seconds of each of `iterations` calls `forward(inputs)`, after `warmup` untimed calls."""
    for _ in range(warmup):
        forward(inputs)
    return np.array([timed(forward, inputs)[0] for _ in range(iterations)])


def in_turns(contestants, turn, rounds, pause=0.2, progress=None):
    """`{contestant: [turn(contestant, round_) for each round]}`, the contestants taking turns in each round.

    Args:
        contestants: names (or any hashables), in the order of their turns.
        turn: `(contestant, round_) -> result`; it times what it needs to.
        rounds: how many times every contestant gets a turn.
        pause: seconds of sleep before each turn.
        progress: a description for a progress bar over the turns, or None.
    """
    from fastformers_tf.progress import bar

    contestants = list(contestants)
    results = {c: [] for c in contestants}
    with bar(total=rounds * len(contestants), desc=progress, quiet=progress is None) as turns:
        for round_ in range(rounds):
            for c in contestants:
                turns.set_postfix_str(str(getattr(c, "name", c)))
                time.sleep(pause)
                results[c].append(turn(c, round_))
                turns.update()
    return results


def latency(seconds, baseline):
    """`{"median_ms", "p90_ms", "speedup"}` of per-call `seconds`, the speed-up over the median of `baseline`'s."""
    median = float(np.median(seconds))
    return {
        "median_ms": round(1e3 * median, 3),
        "p90_ms": round(1e3 * float(np.percentile(seconds, 90)), 3),
        "speedup": round(float(np.median(baseline)) / median, 2),
    }
