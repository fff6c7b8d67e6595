"""`score_files`: the pipeline of `tools/score.py`, from matched files to predictions and dead letters."""

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import RunInference

from fastformers_tf.errors import ArgumentError
from fastformers_tf.score.read import DEAD_LETTER, NAMESPACE, ReadRows
from fastformers_tf.score.write import (
    WriteFile,
    failed_rows,
    is_output,
    output_path,
    prediction_record,
    to_jsonl,
    write_atomically,
)


def match_inputs(pattern, prefix):
    """The files `pattern` matches (sorted), less this job's own outputs; an error when none is left or two outputs
    would collide."""
    try:
        paths = sorted(m.path for result in FileSystems.match([pattern]) for m in result.metadata_list)
    except Exception as e:  # Beam raises BeamIOError for a pattern it cannot list
        raise FileNotFoundError(f"--input={pattern}: cannot list the files ({e}).") from None
    if not paths:
        raise FileNotFoundError(f"--input={pattern}: no file matches.")
    # A rerun must not score what an earlier run wrote: `<prefix>-*.jsonl` beside its inputs.
    paths = [p for p in paths if not is_output(p, prefix)]
    if not paths:
        raise FileNotFoundError(f"--input={pattern}: only this job's own outputs (--output=...-*.jsonl) match.")
    outputs = {}
    for path in paths:
        other = outputs.setdefault(output_path(prefix, path), path)
        if other != path:
            raise ArgumentError(f"--input matches {other} and {path}, whose predictions would share one output file.")
    return paths


def score_files(pipeline, pattern, prefix, handler, read_rows=None):
    """Adds the scoring of the files `pattern` matches to `pipeline`; returns `(written paths, dead-letter path)`.

    Predictions go to `output_path(prefix, file)` (one JSONL per input file,
    in line order, also for a file with no good rows) and every row that could
    not be read or scored to `<prefix>-dead_letter.jsonl` (always written).
    """
    paths = match_inputs(pattern, prefix)
    files = pipeline | "Files" >> beam.Create(paths)
    rows = (
        files
        | "Open" >> fileio.ReadMatches()
        | "Read" >> beam.ParDo(read_rows or ReadRows()).with_outputs(DEAD_LETTER, main="rows")
    )
    # A file is read by one worker; the reshuffle spreads its rows over every worker before inference.
    spread = rows.rows | "Spread" >> beam.Reshuffle()
    results, failures = spread | "Classify" >> RunInference(handler).with_exception_handling()
    predictions = results | "Records" >> beam.Map(prediction_record)
    every_file = files | "EveryFile" >> beam.Map(lambda path: (path, None))
    written = (
        (predictions, every_file)
        | "Join" >> beam.Flatten()
        | "ByFile" >> beam.GroupByKey()
        | "Write" >> beam.ParDo(WriteFile(prefix))
    )
    failed = failures.failed_inferences | "FailedRows" >> beam.FlatMap(failed_rows)
    failed_counter = Metrics.counter(NAMESPACE, "failed_rows")

    def count_failed(record):
        failed_counter.inc()
        return record

    dead_path = f"{prefix}-{DEAD_LETTER}.jsonl"
    (
        (rows[DEAD_LETTER], failed | "CountFailed" >> beam.Map(count_failed))
        | "DeadLetters" >> beam.Flatten()
        | "AllDead" >> beam.combiners.ToList()
        | "WriteDead"
        >> beam.Map(lambda records: write_atomically(dead_path, to_jsonl(sorted(records, key=_file_line))))
    )
    return written, dead_path


def _file_line(record):
    return record["file"], record["line"]


def counters(result):
    """`{name: value}` of this package's counters in a finished pipeline's result."""
    from apache_beam.metrics.metric import MetricsFilter

    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    values = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + (value or 0)
    return values
