"""`calibrate(...)`: score each stage once on a labeled split, time it at batch 1, sweep, write the cheapest cascade."""

import os

import numpy as np

from fastformers_tf.cascade.thresholds import pick, plot, sweep
from fastformers_tf.errors import ArgumentError

TIMED_EXAMPLES = 100  # texts each stage is timed on at batch 1, in turns


def stage_spec(spec):
    """`(export folder, backend, precision)` from "FOLDER" (its served file) or "FOLDER:BACKEND/PRECISION"."""
    from fastformers_tf.runtime.load import Export, infer_backend

    folder, _, kind = str(spec).partition(":")
    if kind:
        backend, _, precision = kind.partition("/")
        if not backend or not precision:
            raise ArgumentError(f"{spec!r}: name a stage as FOLDER or FOLDER:BACKEND/PRECISION (runs/x:onnx/int8).")
        return folder, backend, precision
    backend = infer_backend(folder)
    if backend not in ("onnx", "tflite"):
        raise ArgumentError(f"{folder}: a cascade stage is an export folder (tools/export.py), not a {backend} model.")
    serve = Export(folder).info.get("serve", {})
    return folder, backend, serve.get("precision", "fp32")


def calibrate(
    stages,
    task,
    split="holdout",
    data_dir=None,
    max_drop=1.0,
    confidence="max_prob",
    output=None,
    threads=None,
    batch_size=1,
    timed_examples=TIMED_EXAMPLES,
    costs_ms=None,
    rule="stable",
):
    """Calibrates a cascade of `stages` on `task`'s `split`; returns the record (and writes `output` when given).

    Args:
        stages: `(export folder, backend, precision)` (or specs for `stage_spec`) per stage, fastest first.
        task: a `Task` or its name.
        split: the labeled split thresholds are set on ("holdout": the one the stages were trained without).
        data_dir: where the task's files are (default ../shared/data).
        max_drop: points the cascade may lose against the last stage alone, on `split`.
        confidence: "max_prob" or "margin".
        output: the cascade folder to write (None: calibrate only).
        threads: of each stage's predictor.
        batch_size: texts per call when each stage scores `split`: 1 (the default) scores every text as a
            batch-1 query is served and as the main job calibrates; more is faster, but ONNX Runtime's dynamic
            INT8 gives a row other outputs in other batches (an RTE teacher: 68.67 on the hold-out in batches
            of 64, 69.08 one by one), so the thresholds would be set on outputs a served query does not get.
        timed_examples: texts each stage is timed on at batch 1 (in turns, 3 rounds, median).
        costs_ms: each stage's ms/query instead of timing them.
        rule: "stable" (the cheapest setting that stays within budget when any threshold is raised from it) or
            "cheapest" (see `thresholds.within_budget`).
    """
    from fastformers_tf.bench.timing import in_turns, timed
    from fastformers_tf.data import get_task
    from fastformers_tf.data.task_data import TaskData
    from fastformers_tf.export.cascade import write_cascade
    from fastformers_tf.recipe import default_data_dir, shared_holdout
    from fastformers_tf.runtime.load import load_predictor

    stages = [stage_spec(s) if isinstance(s, str) else tuple(s) for s in stages]
    if len(stages) < 2:
        raise ArgumentError(f"A cascade needs two or more stages; got {len(stages)}.")
    task = get_task(task) if isinstance(task, str) else task
    holdout = shared_holdout([folder for folder, _, _ in stages], split)
    data_dir = data_dir or default_data_dir()
    predictors, probs, datas = [], [], []
    try:
        for folder, backend, precision in stages:
            predictor = load_predictor(folder, backend, precision, threads=threads, batch_size=batch_size)
            predictors.append(predictor)
            data = TaskData.read(task, split, data_dir, predictor.tokenizer, predictor.max_length, holdout=holdout)
            if (data.features.labels < 0).any():
                raise ArgumentError(f"{task.name}/{split} has no labels: calibrate on a labeled split.")
            datas.append(data)
            probs.append(data.predict_probs(predictor, batch_size))
        examples = datas[0].examples
        if costs_ms is None:
            sample = examples[:timed_examples]

            def turn(i, _round):
                def one_by_one():
                    for e in sample:
                        predictors[i].logits([e.text_a], None if e.text_b is None else [e.text_b])

                return timed(one_by_one)[0] / len(sample)

            seconds = in_turns(range(len(stages)), turn, rounds=3, progress="timing the stages at batch 1")
            costs_ms = [1e3 * float(np.median(seconds[i])) for i in range(len(stages))]
    finally:
        for predictor in predictors:
            predictor.close()

    def score(p):
        return 100 * float(next(iter(task.metric(examples, p).values())))

    result = sweep(probs, score, costs_ms, confidence)
    alone = [score(p) for p in probs]
    k = pick(result, alone[-1], max_drop, rule)
    picked = result.record(k)
    record = {
        "task": task.name,
        "split": split,
        "examples": len(examples),
        "confidence": confidence,
        "max_drop": max_drop,
        "rule": rule,
        "stages": [
            {"folder": os.path.abspath(f), "backend": b, "precision": p, "metric": round(m, 4), "ms_per_query": c}
            for (f, b, p), m, c in zip(stages, alone, costs_ms, strict=True)
        ],
        "picked": picked,
        "speedup_over_last": round(costs_ms[-1] / picked["cost_ms"], 2),
        "settings_tried": len(result.metric),
    }
    if output:
        title = f"{task.name}/{split}: cascade of {len(stages)} stages ({confidence})"
        write_cascade(
            output,
            stages,
            picked["thresholds"],
            confidence,
            files={"calibration.png": plot(result, title)},
            calibration=record,
        )
    return record


def summary_line(record):
    """One line: the pick, its metric against the last stage's, the shares and the expected cost."""
    picked, last = record["picked"], record["stages"][-1]
    shares = ", ".join(f"{100 * s:.1f}%" for s in picked["shares"][1:])
    return (
        f"thresholds {picked['thresholds']} ({record['confidence']}): {picked['metric']:.2f} on "
        f"{record['task']}/{record['split']} vs {last['metric']:.2f} for the last stage alone "
        f"(budget -{record['max_drop']}, {record['rule']} rule); "
        f"queries reaching the later stages {shares}; "
        f"{picked['cost_ms']:.2f} ms/query expected at batch 1, {record['speedup_over_last']}x the last stage's "
        f"{last['ms_per_query']:.2f}"
    )
