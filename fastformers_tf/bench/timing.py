"""Wall-clock timing of repeated calls."""

import time

import numpy as np


def timings(forward, inputs, iterations, warmup=3):
    """Seconds of each of `iterations` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        forward(inputs)
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        forward(inputs)
        seconds.append(time.perf_counter() - start)
    return np.array(seconds)
