"""From importance scores and targets to a `PrunePlan`: how many heads and FFN units each layer keeps.

Targets (0 leaves that kind unpruned):
  - `heads`, `ffn`: a fraction in (0, 1] of all the model's heads / units, or a
    whole number > 1 of heads / units per layer, capped at each layer's size
    (so `heads=8` on a 12-layer model keeps 96 heads in all, however they are
    allocated);
  - `params`: a budget for the Transformer layers' parameters (a fraction in
    (0, 1] of theirs, or a count), met by keeping the same fraction of heads and
    of units; embeddings and the classifier are not counted.

Allocations:
  - `uniform` (the paper): every layer keeps the same number k, capped at its
    size (for a fraction or budget, the k whose capped total comes closest);
  - `global`: heads ranked across layers (after each layer's best `min_heads`),
    units ranked across layers, so layers differ and may keep nothing.

FFN widths are rounded to `multiple_of` (for fast kernels); a global plan
then moves whole blocks of `multiple_of` units by largest remainder, so the
total stays the target rounded to a multiple (a layer narrower than
`multiple_of` can only be emptied or left whole).
"""

import numpy as np

from fastformers_tf.prune.plan import PrunePlan

ALLOCATIONS = ("uniform", "global")


def head_cost(config):
    """Parameters of one head (q/k/v/output kernels, q/k/v biases)."""
    d, h = config.hidden_dim, config.head_dim
    return 4 * d * h + 3 * h


def unit_cost(config):
    """Parameters of one FFN unit (two kernel rows, one bias)."""
    return 2 * config.hidden_dim + 1


def layers_cost(config, num_heads, intermediate_dim):
    """The prunable parameters of the Transformer layers with these per-layer sizes."""
    return head_cost(config) * sum(num_heads) + unit_cost(config) * sum(intermediate_dim)


def _total(target, sizes, name):
    full = sum(sizes)
    if not target:
        return full
    if target < 0:
        raise ValueError(f"{name}={target}: a target must be > 0 (0 keeps everything).")
    if target <= 1:
        return int(round(target * full))
    if target != int(target):
        raise ValueError(f"{name}={target}: above 1 a target counts {name} per layer, so it must be whole.")
    return sum(min(int(target), size) for size in sizes)  # k per layer, capped at each layer's size


def _top(scores, k):
    """Indices of the `k` best scores (ties: lower index first), sorted."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores)))
    return sorted(int(i) for i in order[:k])


def _round_blocks(counts, sizes, total, multiple_of):
    """Per-layer counts made multiples of `multiple_of` that sum to `total` (a multiple), by largest remainder."""
    caps = [s // multiple_of * multiple_of for s in sizes]
    base = [min(c // multiple_of * multiple_of, cap) for c, cap in zip(counts, caps, strict=True)]
    order = sorted(range(len(counts)), key=lambda i: (-(counts[i] - base[i]), i))
    left = total - sum(base)
    while left > 0:
        grown = False
        for i in order:
            if left > 0 and base[i] + multiple_of <= caps[i]:
                base[i] += multiple_of
                left -= multiple_of
                grown = True
        if not grown:
            break
    return base


def uniform_width(sizes, total, multiple_of=1, round_down=False):
    """The per-layer count k (a multiple of `multiple_of`) whose capped sum `sum(min(k, size))` is closest to
    `total` (with `round_down`, the largest not above it): on layers of different sizes the ones smaller
    than k keep everything and the rest keep k."""
    widths = range(0, max(sizes, default=0) + multiple_of, multiple_of)
    kept = {k: sum(min(k, size) for size in sizes) for k in widths}
    if round_down:
        return max(k for k in widths if kept[k] <= total)
    return min(widths, key=lambda k: (abs(kept[k] - total), k))


def _uniform(scores, sizes, total, multiple_of=1, minimum=0, round_down=False):
    k = max(uniform_width(sizes, total, multiple_of, round_down), minimum)
    return [_top(s, min(k, size)) for s, size in zip(scores, sizes, strict=True)]


def _global(scores, sizes, total, multiple_of=1, minimum=0):
    reserved = [_top(s, min(minimum, size)) for s, size in zip(scores, sizes, strict=True)]
    if sum(map(len, reserved)) > total:
        raise ValueError(f"Keeping {total} in all is fewer than min_heads={minimum} in each of {len(sizes)} layers.")
    rest = [
        (-float(s[i]), layer, i) for layer, s in enumerate(scores) for i in range(len(s)) if i not in reserved[layer]
    ]
    chosen = [list(r) for r in reserved]
    for _, layer, i in sorted(rest)[: total - sum(map(len, reserved))]:
        chosen[layer].append(i)
    if multiple_of > 1:
        counts = _round_blocks([len(c) for c in chosen], sizes, total, multiple_of)
        return [_top(s, k) for s, k in zip(scores, counts, strict=True)]
    return [sorted(c) for c in chosen]


def make_plan(scores, config, heads=0, ffn=0, params=0, allocation="uniform", multiple_of=1, min_heads=0):
    """A `PrunePlan` keeping the best-scored heads and units of a model with `config` (an `EncoderConfig`).

    Args:
        scores: `Scores` of that model.
        config: its `EncoderConfig`.
        heads, ffn, params: targets (see the module doc); `params` replaces
            `heads` and `ffn`.
        allocation: "uniform" or "global".
        multiple_of: FFN widths are multiples of this.
        min_heads: heads every layer keeps (up to its size).

    Example:
        >>> make_plan(scores, encoder.config, heads=0.5, ffn=0.5, allocation="global").num_heads
        [3, 1, 0, 2]
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation={allocation!r}: expected one of {ALLOCATIONS}.")
    if multiple_of < 1 or min_heads < 0:
        raise ValueError(f"multiple_of={multiple_of} must be >= 1 and min_heads={min_heads} >= 0.")
    head_sizes, unit_sizes = list(config.num_heads), list(config.intermediate_dim)
    if [len(s) for s in scores.heads] != head_sizes or [len(s) for s in scores.ffn] != unit_sizes:
        raise ValueError(
            f"Scores cover heads {[len(s) for s in scores.heads]} and units {[len(s) for s in scores.ffn]}; "
            f"the model has {head_sizes} and {unit_sizes}."
        )
    round_down = False
    if params:
        if heads or ffn:
            raise ValueError("A params budget sets the head and FFN targets; do not give them too.")
        full = layers_cost(config, head_sizes, unit_sizes)
        budget = params * full if params <= 1 else params
        keep_heads = int(round(budget / full * sum(head_sizes)))
        floor = sum(min(min_heads, size) for size in head_sizes)  # what min_heads reserves
        if allocation == "uniform":  # the same count in every layer: what that count keeps in all
            k = max(uniform_width(head_sizes, keep_heads), min_heads)

            def kept(k):
                return sum(min(k, size) for size in head_sizes)

            while k > min_heads and kept(k) * head_cost(config) > budget:
                k -= 1
            keep_heads = kept(k)
        keep_heads = max(keep_heads, floor)
        while keep_heads > floor and keep_heads * head_cost(config) > budget:
            keep_heads -= 1
        if keep_heads * head_cost(config) > budget:
            raise ValueError(f"The params budget {budget:,.0f} is below what min_heads={min_heads} keeps.")
        left = budget - keep_heads * head_cost(config)  # the FFN units get the rest
        keep_units = int(max(0, min(sum(unit_sizes), left // unit_cost(config))))
        head_total, unit_total, round_down = keep_heads, keep_units, True
    else:
        head_total, unit_total = _total(heads, head_sizes, "heads"), _total(ffn, unit_sizes, "ffn")
    return plan_for_totals(scores, config, head_total, unit_total, allocation, multiple_of, min_heads, round_down)


def plan_for_totals(
    scores, config, head_total, unit_total, allocation="uniform", multiple_of=1, min_heads=0, round_down=False
):
    """The plan keeping `head_total` heads and `unit_total` units in all (FFN rounded to `multiple_of`)."""
    head_sizes, unit_sizes = list(config.num_heads), list(config.intermediate_dim)
    all_heads, all_units = head_total >= sum(head_sizes), unit_total >= sum(unit_sizes)  # no target: keep as is
    if not round_down:
        unit_total = int(round(unit_total / multiple_of)) * multiple_of
    elif allocation == "global":
        unit_total = unit_total // multiple_of * multiple_of
    if allocation == "uniform":
        kept_heads = _uniform(scores.heads, head_sizes, head_total, minimum=min_heads)
        kept_units = _uniform(scores.ffn, unit_sizes, unit_total, multiple_of, round_down=round_down)
    else:
        kept_heads = _global(scores.heads, head_sizes, head_total, minimum=min_heads)
        kept_units = _global(scores.ffn, unit_sizes, unit_total, multiple_of)
    # A kind without a target (everything kept) stays as it is, uneven layers included.
    if all_heads:
        kept_heads = [list(range(n)) for n in head_sizes]
    if all_units:
        kept_units = [list(range(f)) for f in unit_sizes]
    return PrunePlan(heads=kept_heads, ffn_units=kept_units)


def step_targets(config, final_heads, final_units, iterations):
    """Head and unit totals after each of `iterations` steps, evenly spaced from `config`'s sizes to the finals."""
    heads, units = sum(config.num_heads), sum(config.intermediate_dim)
    return [
        (
            int(round(heads - (heads - final_heads) * s / iterations)),
            int(round(units - (units - final_units) * s / iterations)),
        )
        for s in range(1, iterations + 1)
    ]


def summary(config):
    """Sizes and prunable parameters of a model, as plain data."""
    heads, units = list(config.num_heads), list(config.intermediate_dim)
    return {"heads": heads, "ffn": units, "layer_params": layers_cost(config, heads, units)}
