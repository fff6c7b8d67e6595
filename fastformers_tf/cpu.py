"""What /proc/cpuinfo says about this CPU: per-processor fields, feature flags, model name.

Plain text parsing, no dependencies: quantization picks `reduce_range` from the
flags, multi-instance inference counts physical cores, benchmarks name the CPU.
Every function takes the cpuinfo text, so tests can pass their own.
"""

import platform

CPUINFO = "/proc/cpuinfo"


def read_cpuinfo(path=CPUINFO):
    """The text of /proc/cpuinfo; empty where there is none."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def processors(cpuinfo=None):
    """One `{field: value}` dict per block of cpuinfo (one per logical CPU on x86)."""
    cpuinfo = read_cpuinfo() if cpuinfo is None else cpuinfo
    blocks = []
    for block in cpuinfo.strip().split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        blocks.append({k.strip(): v.strip() for k, v in fields.items()})
    return blocks


def cpu_flags(cpuinfo=None):
    """The feature flags of the first CPU (x86 `flags`, ARM `Features`); empty if unknown."""
    for fields in processors(cpuinfo):
        for key in ("flags", "Features"):
            if key in fields:
                return set(fields[key].split())
    return set()


def cpu_name(cpuinfo=None):
    """The CPU's model name, else what `platform` knows."""
    for fields in processors(cpuinfo):
        if "model name" in fields:
            return fields["model name"]
    return platform.processor() or platform.machine()
