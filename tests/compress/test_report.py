"""The pick from the candidates timed again: plain records, no models."""

import pytest

from fastformers_tf.compress import report as reports
from fastformers_tf.errors import UserError


def record(name, split_s, accuracy, again=None, stages=(), padding="dynamic"):
    """A benchmark record with what the pick reads; `again`: batch-1 seconds of each round over 10 queries."""
    r = {
        "name": name,
        "split_s": split_s,
        "ms_per_query": 100 * split_s,
        "selection_metrics": {"accuracy": accuracy},
        "padding": padding,
        "stages": list(stages),
        "instances": 2,
        "threads": 1,
    }
    if again is not None:
        r["again"] = {"ms_per_query": round(1e3 * sorted(again)[len(again) // 2] / 10, 3), "turns_batch1_s": again}
    return r


def records():
    return [
        record("baseline", 9.0, 0.70, padding="max"),
        record("cascade a", 1.0, 0.695, stages=("s", "t")),  # the fastest in the first pass
        record("cascade b", 1.1, 0.694, stages=("s", "t")),
        record("teacher int8", 2.0, 0.697),  # the fastest single model within budget
        record("student", 0.5, 0.60),  # out of budget
        record("teacher fp32", 3.0, 0.70),
    ]


def test_the_baseline_the_two_leaders_and_the_fastest_single_model_within_budget_are_timed_again():
    assert reports.to_time_again(records(), max_drop_points=1.0) == [0, 1, 2, 3]
    assert reports.to_time_again(records(), max_drop_points=1.0, leaders=3) == [0, 1, 2, 3]
    assert reports.to_time_again(records(), max_drop_points=0.0) == [0, 5]  # only the teacher fp32 is within
    assert reports.to_time_again(records()[:3], max_drop_points=1.0) == [0, 1, 2]  # no single model within budget


def test_the_pick_follows_the_times_taken_again_and_its_line_quotes_them():
    rs = records()
    rounds = {0: [0.9, 1.0, 0.8], 1: [0.12, 0.10, 0.11], 2: [0.10, 0.11, 0.10], 3: [0.2, 0.2, 0.25]}
    for i, again in rounds.items():
        rs[i] = record(
            rs[i]["name"],
            rs[i]["split_s"],
            rs[i]["selection_metrics"]["accuracy"],
            again,
            rs[i]["stages"],
            rs[i]["padding"],
        )
    picked, ref, floor = reports.pick(rs, rs[0], 1.0)
    assert picked["name"] == "cascade b" and ref == 0.70  # a in the first pass, b when timed again
    # Medians 20 vs 10 ms; by round 0.2 / 0.10, 0.2 / 0.11 and 0.25 / 0.10.
    assert reports.versus(rs[3], picked) == pytest.approx((2.0, 0.2 / 0.11, 2.5))
    line = reports.pick_line({"records": rs, "selection_split": "holdout"}, picked, ref, floor, 1.0)
    assert "10.00 ms/query at batch 1, 9.0x faster than the baseline (8.0-9.1x by round of 3" in line
    budget = "Against teacher int8, the fastest single model within budget (20.00 ms/query): 2.00x faster"
    assert f"{budget} by the medians, 1.82-2.50x by round." in line
    # Cascade a is slower by the medians (11 vs 10 ms) but faster in the second round.
    assert (
        "Against cascade a (11.00 ms/query): 1.10x faster by the medians, 0.91-1.20x by round: no clear lead." in line
    )
    assert "the fastest of the 3 timed again, of the 4 candidates within budget (of 5)" in line
    # Without times taken again the pick is the fastest of the first pass.
    assert reports.pick(records(), records()[0], 1.0)[0]["name"] == "cascade a"


def test_no_candidate_within_budget_is_one_line_naming_the_budget():
    rs = [records()[0], records()[4]]  # the padded baseline is no candidate; the student is 10 points behind
    assert reports.to_time_again(rs, max_drop_points=1.0) == [0]  # nothing to time again but the baseline
    with pytest.raises(UserError, match=r"No candidate is within 1.0 points of the teacher's 70.00"):
        reports.pick(rs, rs[0], 1.0)
