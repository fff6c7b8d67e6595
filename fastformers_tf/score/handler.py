"""`ExportModelHandler`: Beam's `RunInference` over an export folder, with the predictor `tools/predict.py` serves."""

import os

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from fastformers_tf.errors import ArgumentError, check_positive
from fastformers_tf.export.cascade import CASCADE, read_cascade
from fastformers_tf.runtime.load import infer_backend, load_predictor, resolve_export
from fastformers_tf.runtime.multi_instance import physical_cores, plan_cores
from fastformers_tf.score.read import NAMESPACE, row_length


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
        if backend == CASCADE:
            read_cascade(model)  # a changed stage file fails here, not on a worker
        elif backend not in ("onnx", "tflite"):
            raise ArgumentError(
                f"{model}: Beam scoring serves ONNX or TFLite exports and cascades, not a {backend} model; "
                "export it with tools/export.py first."
            )
        else:
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
