"""Wall-clock timing of repeated calls, and the CPU they ran on."""

import platform
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


def cpu_name(cpuinfo=None):
    """The CPU's model name from /proc/cpuinfo (or the given text), else what `platform` knows."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or platform.machine()
