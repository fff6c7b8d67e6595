"""Every candidate (model x backend x precision x instances) timed on the same split, in one run.

A candidate's time is the wall-clock of answering the split's examples one
query at a time (batch 1; with several instances the queries are spread over
the workers, as a server would), after one untimed query per worker. Its
throughput is the same split at `throughput_batch` texts per call (batches of
similar lengths, each padded to its own longest row). Its task metric comes
from the outputs of that same pass, so every number in a row is of the same
configuration. The baseline pads every query to the model's maximum length,
as a model run out of the box does. Candidates take turns, so a slow spell of
a shared machine is spread over all of them.
"""

import dataclasses

import numpy as np

from fastformers_tf.bench.timing import in_turns, timed
from fastformers_tf.data.batching import padded_batches, softmax


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way to serve one model: which model, backend, precision, worker count and padding."""

    model: str  # a stage's model: "teacher", "distill", "prune"
    backend: str  # "keras", "onnx", "tflite"
    precision: str  # "fp32", "int8"
    instances: int = 1
    threads: int = 1  # per instance
    padding: str = "dynamic"  # "dynamic": each batch to its longest row; "max": every row to the max length
    stages: tuple = ()  # a cascade's models, fastest first (`model` is "a>b"); () for one model
    thresholds: tuple = ()  # a cascade's thresholds, one per stage but the last

    @property
    def name(self):
        padded = ", padded to max length" if self.padding == "max" else ""
        cascade = " cascade" if self.stages else ""  # its thresholds are in its record
        return f"{self.model} {self.backend}/{self.precision} {self.instances}x{self.threads}{padded}{cascade}"

    @property
    def outputs_key(self):
        """Candidates with the same key compute the same logits (instances and threads change only the speed)."""
        return f"{self.model} {self.backend}/{self.precision} {self.padding}"


def candidates(models, backends, instances, cores):
    """The baseline, then every model x backend x instance count (Keras runs as one instance on all cores).

    Args:
        models: stage names whose models exist, e.g. ["teacher", "distill", "prune"].
        backends: "backend/precision" strings, e.g. ["keras/fp32", "onnx/int8"].
        instances: worker counts; 0 means one per core.
        cores: cores the benchmark uses; each of N instances gets cores // N threads.
    """
    counts = instance_counts(instances, cores)
    result = [Candidate(models[0], "keras", "fp32", 1, cores, "max")]
    for model in models:
        for spec in backends:
            backend, precision = spec.split("/")
            for n in [1] if backend == "keras" else counts:
                result.append(Candidate(model, backend, precision, n, max(1, cores // n)))
    return result


def instance_counts(instances, cores):
    """The worker counts timed: `instances` with 0 meaning one per core, those above `cores` left out."""
    return sorted({n or cores for n in instances if (n or cores) <= cores})


def cascades(student, teacher, thresholds, backend, instances, cores):
    """The candidates of `student` then `teacher`, both as `backend` ("onnx/int8"), one per worker count of
    `instances` (each worker runs both stages on `cores // n` threads)."""
    name, precision = backend.split("/")
    return [
        Candidate(
            f"{student}>{teacher}",
            name,
            precision,
            n,
            max(1, cores // n),
            stages=(student, teacher),
            thresholds=thresholds,
        )
        for n in instance_counts(instances, cores)
    ]


def cascade_pass(predictor, datas, per_call, rows=None):
    """`(seconds, logits by row, answering stage by row)` of a `CascadePredictor` over `rows` (default all, by
    length), `per_call` rows per call.

    `datas` holds each stage's `TaskData` of the same split (its own
    tokenization); the rows' features are cut before the clock starts, as
    the other candidates' padded batches are.
    """
    if rows is None:
        rows = np.argsort(datas[0].features.lengths, kind="stable")  # similar lengths together, as batches are
    calls = [np.asarray(rows[i : i + per_call]) for i in range(0, len(rows), per_call)]
    features = [[d.features.subset(call) for d in datas] for call in calls]
    predictor.answer_many(features[: getattr(predictor, "instances", 1)])  # untimed: one per worker, as run_batches
    seconds, answers = timed(lambda: predictor.answer_many(features))
    logits, stages = {}, {}
    for call, (out, stage) in zip(calls, answers, strict=True):
        logits.update(zip(call.tolist(), out, strict=True))
        stages.update(zip(call.tolist(), stage.tolist(), strict=True))
    return seconds, logits, stages


def run_batches(predictor, batched, workers=1):
    """`(seconds, logits by row)`: one untimed call per worker, then every batch, timed as a whole."""
    inputs = [x for _, x in batched]
    list(predictor.forward_batches(inputs[:workers]))
    seconds, outputs = timed(lambda: list(predictor.forward_batches(inputs)))
    logits = {}
    for (rows, _), output in zip(batched, outputs, strict=True):
        logits.update(zip(rows.tolist(), output["logits"], strict=True))
    return seconds, logits


def task_metrics(data, logits_by_row):
    """The task's metrics from logits of every row of `data` (a `TaskData`)."""
    logits = np.stack([logits_by_row[i] for i in range(len(data))]).astype(np.float32)
    return data.task.metric(data.examples, softmax(logits))


def throughput_pass(predictor, candidate, data, max_length, throughput_batch, workers=1):
    """`(seconds, metrics)` of the whole split at `throughput_batch` texts per call, padded as `candidate` pads."""
    pad_to = max_length if candidate.padding == "max" else None
    many = padded_batches(
        data.features, predictor.input_names, data.pad_id, throughput_batch, pad_to, by_length=not pad_to
    )
    seconds, logits = run_batches(predictor, many, workers)
    return seconds, task_metrics(data, logits)


def measure(predictor, candidate, data, timed_rows, throughput_batch, max_length, with_outputs=True):
    """One turn of `candidate`: batch-1 seconds over `timed_rows`, and (with outputs) the throughput pass.

    For a cascade `data` is the list of its stages' `TaskData`.

    Returns `{"batch1_s", ...}`; with outputs also `throughput_s` and the
    task `metrics` of the throughput pass.
    """
    pad_to = max_length if candidate.padding == "max" else None
    if candidate.stages:  # a cascade: each query through the stages it needs, in file order
        seconds, logits, stage = cascade_pass(predictor, data, 1, rows=timed_rows)
    else:  # queries in file order, as they would arrive
        singles = padded_batches(
            data.features, predictor.input_names, data.pad_id, 1, pad_to, rows=timed_rows, by_length=False
        )
        seconds, _ = run_batches(predictor, singles, candidate.instances)
    result = {"batch1_s": seconds}
    if with_outputs and candidate.stages:
        # A cascade's metrics come from batch-1 outputs, as its threshold was set: dynamic INT8 gives a row other
        # outputs in another batch, and the rows that reach the teacher make other batches than the whole split.
        result["throughput_s"], _, _ = cascade_pass(predictor, data, throughput_batch)
        if len(timed_rows) < len(data[0]):  # the timed queries were a part of the split
            _, logits, stage = cascade_pass(predictor, data, 1)
        result["metrics"] = task_metrics(data[0], logits)
        stage = np.array([stage[i] for i in range(len(data[0]))])
        # The share of the split's texts that reached each stage (stage 0: all of them).
        result["stage_shares"] = [round(float(np.mean(stage >= i)), 4) for i in range(len(candidate.stages))]
    elif with_outputs:
        result["throughput_s"], result["metrics"] = throughput_pass(
            predictor, candidate, data, max_length, throughput_batch, candidate.instances
        )
    return result


def data_for(candidate, data_of):
    """`data_of(model)` for one model; for a cascade, `([each stage's TaskData], None)`."""
    if candidate.stages:
        return [data_of(model)[0] for model in candidate.stages], None
    return data_of(candidate.model)


def metrics_on(cands, open_predictor, data_of, throughput_batch):
    """`{candidate: metrics}` on the data `data_of(model)` gives: one untimed pass per distinct outputs.

    Candidates with the same `outputs_key` (they differ in workers or threads
    only) compute the same logits, so each key is scored once.
    """
    by_outputs = {}
    for c in cands:
        if c.outputs_key not in by_outputs:
            data, max_length = data_for(c, data_of)
            with open_predictor(c) as predictor:
                if c.stages:  # from batch-1 outputs, as its threshold was set (see `measure`)
                    by_outputs[c.outputs_key] = task_metrics(data[0], cascade_pass(predictor, data, 1)[1])
                else:
                    by_outputs[c.outputs_key] = throughput_pass(predictor, c, data, max_length, throughput_batch)[1]
    return {c: by_outputs[c.outputs_key] for c in cands}


def summarize(candidate, turns, examples, timed_count):
    """A candidate's record from its turns: median batch-1 time scaled to the whole split, throughput, metrics."""
    batch1 = float(np.median([t["batch1_s"] for t in turns]))
    first = turns[0]
    split_s = batch1 * examples / timed_count
    return {
        "name": candidate.name,
        **dataclasses.asdict(candidate),
        "split_s": round(split_s, 6),
        "ms_per_query": round(1e3 * batch1 / timed_count, 3),
        "queries_per_s": round(timed_count / batch1, 2),
        "throughput_per_s": round(examples / first["throughput_s"], 2),
        "metrics": first["metrics"],
        "turns_batch1_s": [round(t["batch1_s"], 3) for t in turns],
        **({"stage_shares": first["stage_shares"]} if "stage_shares" in first else {}),
    }


def _sizes(candidate, data_of, examples):
    """`(examples in the split, examples timed at batch 1)` of `candidate` (`examples`: the first N; 0: all)."""
    data, _ = data_of(candidate.stages[0] if candidate.stages else candidate.model)
    return len(data), min(examples, len(data)) if examples else len(data)


def _turn(open_predictor, data_of, throughput_batch, examples, with_outputs):
    """`(candidate, round_) -> measure(...)`: one turn of a candidate, outputs on its first round if `with_outputs`."""

    def turn(c, round_):
        data, max_length = data_for(c, data_of)
        timed_rows = np.arange(_sizes(c, data_of, examples)[1])
        with open_predictor(c) as predictor:
            return measure(predictor, c, data, timed_rows, throughput_batch, max_length, with_outputs and round_ == 0)

    return turn


def run_benchmark(cands, open_predictor, data_of, throughput_batch=32, examples=0, rounds=1, progress=True):
    """Times every candidate in turns; returns one record per candidate, in `cands` order.

    Args:
        cands: `Candidate`s; the first is the baseline.
        open_predictor: `candidate -> Predictor` (closed after each turn).
        data_of: `model name -> (TaskData of the report split, max_length)`.
        throughput_batch: texts per call in the throughput pass.
        examples: time batch 1 on the first N examples (0: all); throughput and metrics use all.
        rounds: turns per candidate; the batch-1 time is their median.
    """
    turn = _turn(open_predictor, data_of, throughput_batch, examples, with_outputs=True)
    turns = in_turns(cands, turn, rounds, progress="benchmark" if progress else None)
    return [summarize(c, turns[c], *_sizes(c, data_of, examples)) for c in cands]


def time_again(cands, open_predictor, data_of, examples=0, rounds=5, progress=True):
    """`[{"ms_per_query", "turns_batch1_s"}]`, one per candidate: their batch-1 time alone (no throughput pass,
    no outputs kept), in `rounds` turns each, alternating, so that each round's ratios compare times taken
    seconds apart. The arguments are `run_benchmark`'s.
    """
    turn = _turn(open_predictor, data_of, 0, examples, with_outputs=False)
    turns = in_turns(cands, turn, rounds, progress="timing again" if progress else None)
    again = []
    for c in cands:
        seconds = [t["batch1_s"] for t in turns[c]]
        _, queries = _sizes(c, data_of, examples)
        again.append(
            {
                "ms_per_query": round(1e3 * float(np.median(seconds)) / queries, 3),
                "turns_batch1_s": [round(s, 6) for s in seconds],
            }
        )
    return again
