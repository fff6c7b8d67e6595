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
import time

import numpy as np

from fastformers_tf.data.batching import batch_order, pad_batch
from fastformers_tf.runtime.base import SORT_ALL, softmax


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way to serve one model: which model, backend, precision, worker count and padding."""

    model: str  # a stage's model: "teacher", "distill", "prune"
    backend: str  # "keras", "onnx", "tflite"
    precision: str  # "fp32", "int8"
    instances: int = 1
    threads: int = 1  # per instance
    padding: str = "dynamic"  # "dynamic": each batch to its longest row; "max": every row to the max length

    @property
    def name(self):
        padded = ", padded to max length" if self.padding == "max" else ""
        return f"{self.model} {self.backend}/{self.precision} {self.instances}x{self.threads}{padded}"

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
    counts = sorted({n or cores for n in instances if (n or cores) <= cores})
    result = [Candidate(models[0], "keras", "fp32", 1, cores, "max")]
    for model in models:
        for spec in backends:
            backend, precision = spec.split("/")
            for n in [1] if backend == "keras" else counts:
                result.append(Candidate(model, backend, precision, n, max(1, cores // n)))
    return result


def batches(features, input_names, pad_id, batch_size, pad_to=None, rows=None):
    """`(rows, inputs)` per batch over `rows` (default all): sorted by length, or in order when padded to `pad_to`."""
    rows = np.arange(len(features)) if rows is None else np.asarray(rows)
    lengths = features.lengths[rows]
    order = batch_order(lengths, batch_size, bucket_window=0 if pad_to else SORT_ALL)
    with_segments = "segment_ids" in input_names
    result = []
    for positions in order:
        indices = rows[positions]
        inputs = pad_batch(features, indices, pad_id, with_segments, pad_to=pad_to)
        result.append((indices, {k: v for k, v in inputs.items() if k in input_names}))
    return result


def run_batches(predictor, batched, workers=1):
    """`(seconds, logits by row)`: one untimed call per worker, then every batch, timed as a whole."""
    inputs = [x for _, x in batched]
    list(predictor.forward_batches(inputs[:workers]))
    start = time.perf_counter()
    outputs = list(predictor.forward_batches(inputs))
    seconds = time.perf_counter() - start
    logits = {}
    for (rows, _), output in zip(batched, outputs, strict=True):
        logits.update(zip(rows.tolist(), output["logits"], strict=True))
    return seconds, logits


def task_metrics(data, logits_by_row):
    """The task's metrics from logits of every row of `data` (a `TaskData`)."""
    logits = np.stack([logits_by_row[i] for i in range(len(data))]).astype(np.float32)
    return data.task.metric(data.examples, softmax(logits))


def measure(predictor, candidate, data, timed_rows, throughput_batch, max_length, with_outputs=True):
    """One turn of `candidate`: batch-1 seconds over `timed_rows`, and (with outputs) the throughput pass.

    Returns `{"batch1_s", ...}`; with outputs also `throughput_s` and the
    task `metrics` of the throughput pass.
    """
    pad_to = max_length if candidate.padding == "max" else None
    names = predictor.input_names
    singles = batches(data.features, names, data.pad_id, 1, pad_to, rows=timed_rows)
    singles.sort(key=lambda item: int(item[0][0]))  # queries in file order, as they would arrive
    seconds, _ = run_batches(predictor, singles, candidate.instances)
    result = {"batch1_s": seconds}
    if with_outputs:
        many = batches(data.features, names, data.pad_id, throughput_batch, pad_to)
        result["throughput_s"], logits = run_batches(predictor, many, candidate.instances)
        result["metrics"] = task_metrics(data, logits)
    return result


def summarize(candidate, turns, examples, timed):
    """A candidate's record from its turns: median batch-1 time scaled to the whole split, throughput, metrics."""
    batch1 = float(np.median([t["batch1_s"] for t in turns]))
    first = turns[0]
    split_s = batch1 * examples / timed
    return {
        "name": candidate.name,
        **dataclasses.asdict(candidate),
        "split_s": round(split_s, 6),
        "ms_per_query": round(1e3 * batch1 / timed, 3),
        "queries_per_s": round(timed / batch1, 2),
        "throughput_per_s": round(examples / first["throughput_s"], 2),
        "metrics": first["metrics"],
        "turns_batch1_s": [round(t["batch1_s"], 3) for t in turns],
    }


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
    from tqdm.auto import tqdm

    turns = {c: [] for c in cands}
    bar = tqdm(total=len(cands) * rounds, desc="benchmark", disable=not progress)
    for round_ in range(rounds):
        for c in cands:
            data, max_length = data_of(c.model)
            timed = np.arange(min(examples, len(data)) if examples else len(data))
            bar.set_postfix_str(c.name)
            predictor = open_predictor(c)
            try:
                time.sleep(0.2)  # lets the thread pools of the previous candidate fall asleep
                turns[c].append(measure(predictor, c, data, timed, throughput_batch, max_length, round_ == 0))
            finally:
                predictor.close()
            bar.update()
    bar.close()
    records = []
    for c in cands:
        data, _ = data_of(c.model)
        timed = min(examples, len(data)) if examples else len(data)
        records.append(summarize(c, turns[c], len(data), timed))
    return records
