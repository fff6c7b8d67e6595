"""Batch scoring on Apache Beam: a `RunInference` model handler over an export folder, and the scoring pipeline.

`ExportModelHandler` loads an ONNX or TFLite export once per worker (or
`model_copies` times per machine) and classifies the `Row`s of each Beam batch
with the same predictor `tools/predict.py` serves: a batch is tokenized, sorted
by length and cut into padded forward passes of `batch_size`. `score_files`
is the pipeline of `tools/score.py`: files in, one JSONL of predictions per
input file in line order, and every row that could not be read or scored in a
dead-letter file with its file and line. Nothing here imports TensorFlow: the
serving install plus `apache-beam` runs it (`pip install fastformers_tf[beam]`).
"""

import json
import os
import typing
import uuid

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from fastformers_tf.data.examples import DataError
from fastformers_tf.data.readers import read_csv, read_jsonl, read_lines, read_tsv
from fastformers_tf.data.tasks import RowError, row_texts
from fastformers_tf.errors import ArgumentError, check_positive
from fastformers_tf.runtime.load import infer_backend, load_predictor, resolve_export
from fastformers_tf.runtime.multi_instance import physical_cores, plan_cores

NAMESPACE = "fastformers_tf"
FORMATS = ("auto", "jsonl", "csv", "tsv", "text")
SUFFIX_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv"}
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".deflate", ".lzma")
DEAD_LETTER = "dead_letter"


class Row(typing.NamedTuple):
    """One input row: its file and 1-based line, its id (from `id_column`, or None) and its text(s)."""

    file: str
    line: int
    id: str | None
    text: str
    text_pair: str | None = None


def row_length(row):
    """Characters in a row: the length Beam's length-aware batching buckets rows by."""
    return len(row.text) + len(row.text_pair or "")


class ExportModelHandler(ModelHandler):
    """A `RunInference` model handler for an export folder written by `tools/export.py` (or a compression pick).

    Each element is a `Row`; each result a `PredictionResult` whose `example`
    is the row and whose `inference` is `{"label": name, "probabilities":
    {name: p}}`.

    Args:
        model: an export directory or exported file (ONNX or TFLite).
        backend: "auto" (from the suffix or `export.json`), "onnx" or "tflite".
        precision: "fp32", "int8" or "fp16" (None: the export's own choice).
        model_copies: copies of the model per machine, shared by the
            machine's worker processes (Beam's `model_copies`); None: one per
            worker process, Beam's default.
        threads: threads per copy (None: the physical cores divided among the
            copies). `copies x threads` above the physical cores is refused
            unless `allow_oversubscription`.
        max_length, batch_size: as the predictor's: tokens kept per text, and
            rows per padded forward pass within a Beam batch.
        min_batch_size, max_batch_size: bounds of Beam's batches (rows per
            `run_inference` call; None: `batch_size`, which Beam's adaptive
            batching then grows from).
        max_batch_duration_secs: with `length_buckets`, how long a partly
            filled batch waits (Beam's length-aware batching is stateful).
        length_buckets: character-length boundaries: rows are batched with
            rows of similar length (Beam's `batch_length_fn`); None: Beam's
            batches in arrival order, each sorted by length before padding.

    Example:
        >>> rows = [Row("in.txt", 1, None, "a fine film")]
        >>> with beam.Pipeline() as p:
        ...     p | beam.Create(rows) | RunInference(ExportModelHandler("runs/sst2/export")) | beam.Map(print)
    """

    def __init__(
        self,
        model,
        backend="auto",
        precision=None,
        model_copies=None,
        threads=None,
        max_length=None,
        batch_size=32,
        min_batch_size=None,
        max_batch_size=256,
        max_batch_duration_secs=None,
        length_buckets=None,
        allow_oversubscription=False,
    ):
        for name, value in (("model_copies", model_copies), ("threads", threads), ("max_length", max_length)):
            check_positive(name, value, allow_none=True)
        check_positive("batch_size", batch_size)
        min_batch_size = min(batch_size, max_batch_size) if min_batch_size is None else min_batch_size
        check_positive("min_batch_size", min_batch_size)
        check_positive("max_batch_size", max_batch_size)
        if min_batch_size > max_batch_size:
            raise ArgumentError(f"min_batch_size={min_batch_size} exceeds max_batch_size={max_batch_size}.")
        if not os.path.exists(model):
            raise FileNotFoundError(f"{model}: no such exported file or export directory.")
        backend = infer_backend(model) if backend == "auto" else backend
        if backend not in ("onnx", "tflite"):
            raise ArgumentError(
                f"{model}: Beam scoring serves ONNX or TFLite exports, not a {backend} model; "
                "export it with tools/export.py first."
            )
        resolve_export(model, backend, precision)  # a missing file or precision fails here, not on a worker
        if threads is not None:
            plan_cores(model_copies or 1, threads, allow_oversubscription=allow_oversubscription)
        if length_buckets is not None:
            length_buckets = sorted(length_buckets)
            max_batch_duration_secs = max_batch_duration_secs or 1
        super().__init__(
            min_batch_size=min_batch_size,
            max_batch_size=max_batch_size,
            max_batch_duration_secs=max_batch_duration_secs,
            batch_length_fn=row_length if length_buckets else None,
            batch_bucket_boundaries=length_buckets,
            model_copies=model_copies,
        )
        self.model, self.backend, self.precision = model, backend, precision
        self.threads, self.max_length, self.batch_size = threads, max_length, batch_size

    def load_model(self):
        copies = self.model_copies()
        threads = self.threads or max(1, len(physical_cores()) // copies)
        return load_predictor(
            self.model, self.backend, self.precision, threads, max_length=self.max_length, batch_size=self.batch_size
        )

    def run_inference(self, batch, model, inference_args=None):
        pairs = [row.text_pair for row in batch]
        if all(pair is None for pair in pairs):
            pairs = None
        elif any(pair is None for pair in pairs):
            raise ValueError("A batch mixes rows with and without a text_pair; score pairs and single texts apart.")
        answers = model.classify([row.text for row in batch], pairs)
        return [
            PredictionResult(row, {"label": label, "probabilities": probs}, self.model)
            for row, (label, probs) in zip(batch, answers, strict=True)
        ]

    def get_num_bytes(self, batch):
        return sum(row_length(row) for row in batch)

    def get_metrics_namespace(self):
        return NAMESPACE


# === Reading ===


def format_of(path, file_format="auto"):
    """The reader a file needs: `file_format`, or with "auto" its suffix (a compression suffix aside)."""
    if file_format != "auto":
        return file_format
    stem = path
    for suffix in COMPRESSION_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return SUFFIX_FORMATS.get(os.path.splitext(stem)[1].lower(), "text")


def _rows(path, file_format, stream, header):
    if file_format == "text":
        return ((n, {"text": line} if isinstance(line, str) else line) for n, line in read_lines(path, "yield", stream))
    if file_format == "jsonl":
        return read_jsonl(path, "yield", stream)
    return {"csv": read_csv, "tsv": read_tsv}[file_format](path, header, "yield", stream)


def dead_letter(path, line, error):
    """A dead-letter record: the file, the line and why the row was not scored."""
    return {"file": path, "line": line, "error": str(error)}


class ReadRows(beam.DoFn):
    """The `Row`s of a matched file (`fileio.ReadableFile`); a bad row goes to the `dead_letter` output.

    Args:
        file_format: one of `FORMATS` ("text": one text per line).
        text_column, text_pair_column, id_column: the columns (JSON keys) of
            the text, the second text of a pair and the row id; for "text"
            files only the line is read.
        header: whether CSV/TSV files start with a header naming the columns
            (without one, columns are named by index: "0", "1", ...).
    """

    def __init__(self, file_format="auto", text_column="text", text_pair_column=None, id_column=None, header=True):
        self.file_format, self.header = file_format, header
        self.text_column, self.text_pair_column, self.id_column = text_column, text_pair_column, id_column
        self.rows = Metrics.counter(NAMESPACE, "rows")
        self.rejected = Metrics.counter(NAMESPACE, "rejected_rows")
        self.blank = Metrics.counter(NAMESPACE, "blank_lines")

    def process(self, readable):
        path = readable.metadata.path
        file_format = format_of(path, self.file_format)
        text_column = "text" if file_format == "text" else self.text_column
        pair_column = None if file_format == "text" else self.text_pair_column
        id_column = None if file_format == "text" else self.id_column
        with readable.open() as stream:
            one_a_line = file_format in ("text", "jsonl")
            lines = _LineCounter(stream) if one_a_line else stream
            rows = 0
            for line, row in _rows(path, file_format, lines, self.header):
                rows += 1
                self.rows.inc()
                if not isinstance(row, DataError):
                    if not self.header and file_format in ("csv", "tsv"):
                        row = {str(k): v for k, v in row.items()}
                    try:
                        text, pair = row_texts(row, text_column, pair_column)
                        row_id = None if id_column is None else _row_id(row, id_column)
                    except RowError as e:
                        row = DataError(f"{path}:{line}: {e}")
                if isinstance(row, DataError):
                    self.rejected.inc()
                    yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(path, line, row))
                else:
                    yield Row(path, line, row_id, text, pair)
            if one_a_line:  # the lines that were no row were blank
                self.blank.inc(lines.count - rows)


class _LineCounter:
    """A binary stream's `readline`, counting the lines it returns (blank ones included)."""

    def __init__(self, stream):
        self.stream, self.count = stream, 0

    def readline(self):
        line = self.stream.readline()
        self.count += bool(line)
        return line


def _row_id(row, column):
    if column not in row:
        raise RowError(f"missing id field {column!r}")
    return str(row[column])


# === Writing ===


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
