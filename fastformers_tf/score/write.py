"""Writing predictions and dead letters: one JSONL per input file, written whole on any Beam filesystem."""

import json
import os
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from fastformers_tf.score.read import NAMESPACE, dead_letter


def write_atomically(path, text):
    """Writes `text` to `path` on any Beam filesystem: to a temporary name, then renamed into place.

    Not `fastformers_tf.artifacts`: that writes local files, and a Beam output may be on gs:// or s3://.
    """
    temporary = f"{path}.partial-{uuid.uuid4().hex}"
    with FileSystems.create(temporary) as f:
        f.write(text.encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temporary], [path])
    return path


def output_path(prefix, input_path):
    """Where the predictions of `input_path` go: `<prefix>-<its file name>.jsonl`."""
    return f"{prefix}-{os.path.basename(input_path)}.jsonl"


def to_jsonl(records):
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def prediction_record(result):
    """`(file, record)` of a `PredictionResult`: the line, the id when the input has one, label and probabilities."""
    row = result.example
    record = {"line": row.line, **({"id": row.id} if row.id is not None else {}), **result.inference}
    return row.file, record


def failed_rows(failure):
    """Dead-letter records of every row of a batch whose inference raised."""
    batch, error = failure
    # Beam passes (exception type, repr of the exception, traceback lines).
    described = error[1] if isinstance(error, tuple) and len(error) > 1 else f"{type(error).__name__}({str(error)!r})"
    message = f"inference failed: {described}"
    return [dead_letter(row.file, row.line, message) for row in batch]


class WriteFile(beam.DoFn):
    """Writes one input file's predictions, sorted by line, to `output_path(prefix, file)`."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.predicted = Metrics.counter(NAMESPACE, "predicted_rows")

    def process(self, element):
        path, records = element
        records = sorted((r for r in records if r is not None), key=lambda r: r["line"])
        self.predicted.inc(len(records))
        yield write_atomically(output_path(self.prefix, path), to_jsonl(records))


def is_output(path, prefix):
    """Whether `path` is a file a job with output `prefix` writes (predictions or dead letters)."""
    if "://" not in path and "://" not in prefix:
        path, prefix = os.path.abspath(path), os.path.abspath(prefix)
    return path.startswith(f"{prefix}-") and path.endswith(".jsonl")
