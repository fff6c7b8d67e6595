"""Threshold calibration: sweep a cascade's thresholds on a labeled split and keep the cheapest within budget.

Each stage's probabilities over the split are computed once; every threshold
setting is then scored without running a model again, with the rule
`runtime.cascade.CascadePredictor` applies: a text goes on from stage i when
its confidence there is below `thresholds[i]`. The expected cost of a query is
the sum over stages of the share of queries reaching the stage times its
batch-1 milliseconds per query. The pick is the cheapest setting whose metric
is within `max_drop` points of the last stage's alone, on the calibration
split (the hold-out carved from train where one exists, never the split the
results are reported on), and, by default ("stable"), stays within it when
any threshold is raised from there.
"""

import dataclasses
import io
import itertools

import numpy as np

from fastformers_tf.cascade.names import RULES
from fastformers_tf.runtime.cascade import CONFIDENCE

GRID_POINTS = 2000  # threshold settings tried at most, spread over the stages


@dataclasses.dataclass
class Sweep:
    """Every threshold setting tried, with what it gives on the calibration split.

    Attributes:
        thresholds: `[K, S-1]` settings.
        metric: `[K]` the task's main metric, in points.
        shares: `[K, S]` the share of queries reaching each stage (stage 0: 1).
        cost_ms: `[K]` expected milliseconds per query at batch 1.
    """

    thresholds: np.ndarray
    metric: np.ndarray
    shares: np.ndarray
    cost_ms: np.ndarray

    def record(self, k):
        """Setting `k` as plain data."""
        return {
            "thresholds": [round(float(t), 6) for t in self.thresholds[k]],
            "metric": round(float(self.metric[k]), 4),
            "shares": [round(float(s), 4) for s in self.shares[k]],
            "cost_ms": round(float(self.cost_ms[k]), 4),
        }


def answers(stage_probs, thresholds, confidence="max_prob"):
    """`(probs [n, C], stage [n])` of the cascade with `thresholds` over precomputed `stage_probs` (`[S][n, C]`)."""
    measure = CONFIDENCE[confidence]
    n = len(stage_probs[0])
    stage = np.full(n, len(stage_probs) - 1, np.int64)
    pending = np.ones(n, bool)
    for i, threshold in enumerate(thresholds):
        sure = pending & (measure(stage_probs[i]) >= threshold)
        stage[sure] = i
        pending &= ~sure
    probs = np.take_along_axis(np.stack(stage_probs), stage[None, :, None], axis=0)[0]  # [n, C]
    return probs, stage


def candidate_thresholds(stage_probs, confidence, points):
    """Per stage but the last, `points` thresholds: 0, quantiles of its confidences, and above 1."""
    measure = CONFIDENCE[confidence]
    grids = []
    for probs in stage_probs[:-1]:
        quantiles = np.quantile(measure(probs), np.linspace(0, 1, max(points - 2, 1)))
        grids.append(np.unique(np.concatenate([[0.0], quantiles, [1.01]])))
    return grids


def sweep(stage_probs, score, costs_ms, confidence="max_prob", max_settings=GRID_POINTS):
    """Scores every threshold setting of a grid.

    Args:
        stage_probs: each stage's probabilities `[n, C]` over the split, fastest first.
        score: `probs [n, C] -> the main metric in points`.
        costs_ms: each stage's batch-1 milliseconds per query.
        confidence: "max_prob" or "margin".
        max_settings: the grid's size at most (points per stage: its (S-1)-th root).
    """
    stages = len(stage_probs)
    points = max(3, int(round(max_settings ** (1 / (stages - 1)))))
    grids = candidate_thresholds(stage_probs, confidence, points)
    settings = np.array(list(itertools.product(*grids)), np.float64).reshape(-1, stages - 1)
    metric, shares = np.zeros(len(settings)), np.zeros((len(settings), stages))
    for k, thresholds in enumerate(settings):
        probs, stage = answers(stage_probs, thresholds, confidence)
        metric[k] = score(probs)
        shares[k] = [(stage >= i).mean() for i in range(stages)]  # the share that reached stage i
    cost = shares @ np.asarray(costs_ms, np.float64)
    return Sweep(settings, metric, shares, cost)


def within_budget(result, reference, max_drop, rule="stable"):
    """`[K]` bool: the settings `rule` allows, those whose metric is at least `reference - max_drop`.

    "cheapest" allows each such setting. "stable" allows one only when every
    setting that sends at least as many texts on at every stage (each
    threshold at least as high) is within budget too: on a small calibration
    split the metric zigzags as the thresholds rise, one pair at a time, and
    the cheapest setting within budget tends to sit on a lucky peak that an
    unseen split does not repeat (RTE: 0.80 points lost on the 249-pair
    hold-out, 2.16 on val). With "stable", raising any threshold from the
    pick never leaves the budget on the calibration split.
    """
    if rule not in RULES:
        raise ValueError(f"Unknown rule {rule!r}; expected one of {RULES}.")
    within = result.metric >= reference - max_drop - 1e-9  # [K]
    if rule == "cheapest":
        return within
    t = result.thresholds  # [K, S-1]
    onward = (t[None, :, :] >= t[:, None, :]).all(-1)  # [K, K]: setting j sends on at least what setting k does
    return within & ~(onward & ~within[None, :]).any(-1)


def pick(result, reference, max_drop, rule="stable"):
    """The index of the cheapest setting `rule` allows within `max_drop` points of `reference` (ties: the better
    metric), or None (see `within_budget`)."""
    eligible = np.flatnonzero(within_budget(result, reference, max_drop, rule))
    if not len(eligible):
        return None
    return int(min(eligible, key=lambda k: (result.cost_ms[k], -result.metric[k])))


def plot(result, title):
    """PNG bytes: the metric and the share of queries reaching each later stage against the first threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(result.thresholds[:, 0], kind="stable")
    first = result.thresholds[order, 0]
    fig, metric_axis = plt.subplots(figsize=(7, 4))
    metric_axis.plot(first, result.metric[order], color="black", label="metric")
    metric_axis.set_xlabel("threshold of stage 0")
    metric_axis.set_ylabel("metric (points)")
    share_axis = metric_axis.twinx()
    for i in range(1, result.shares.shape[1]):
        share_axis.plot(first, 100 * result.shares[order, i], linestyle="--", label=f"reaching stage {i} (%)")
    share_axis.set_ylabel("queries reaching a stage (%)")
    fig.legend(loc="lower left")
    metric_axis.set_title(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
