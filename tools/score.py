"""Score files of texts with an export on Apache Beam (RunInference): batch jobs on one machine or a cluster.

  python tools/score.py --model=runs/sst2/export --input='data/*.tsv' --text_column=sentence \
      --output=runs/scores/sst2
  python tools/score.py --model=runs/rte/export --input=pairs.jsonl --text_column=premise \
      --text_pair_column=hypothesis --id_column=idx --output=gs://bucket/rte \
      --runner=DataflowRunner --project=P --region=R --temp_location=gs://bucket/tmp

Writes `<output>-<input file name>.jsonl` per input file, one prediction per
row in line order (`line`, `id` with --id_column, `label`, `probabilities`),
and `<output>-dead_letter.jsonl`: every row that could not be read or scored,
with its file, line and error. Flags this tool does not define are Beam
pipeline options (--runner, --direct_num_workers, ...). Without --runner,
Beam's DirectRunner runs the job here. Needs `pip install fastformers_tf[beam]`;
imports no TensorFlow.
"""

from absl import app, flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Export directory or exported file (ONNX or TFLite).", required=True)
flags.DEFINE_string("input", None, "Input file or glob pattern (local or any Beam filesystem).", required=True)
flags.DEFINE_string("output", None, "Output prefix: <output>-<file name>.jsonl per input file.", required=True)
flags.DEFINE_enum(
    "format", "auto", ["auto", "jsonl", "csv", "tsv", "text"], "Input format; auto: from the suffix (else text)."
)
flags.DEFINE_string("text_column", "text", "Column (JSON key) of the text to classify.")
flags.DEFINE_string("text_pair_column", None, "Column of the second text, for pair models.")
flags.DEFINE_string("id_column", None, "Column copied to each prediction as its id.")
flags.DEFINE_boolean("header", True, "CSV/TSV files start with a header row naming the columns.")
flags.DEFINE_enum("backend", "auto", ["auto", "onnx", "tflite"], "auto: from the file suffix or export.json.")
flags.DEFINE_enum(
    "precision", None, ["fp32", "int8", "fp16"], "Which file of an export directory (default: its own choice)."
)
flags.DEFINE_integer("model_copies", None, "Model copies per machine, shared by its workers (Beam).", lower_bound=1)
flags.DEFINE_integer("threads", None, "Threads per model copy (default: physical cores / copies).", lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Rows per padded forward pass.", lower_bound=1)
flags.DEFINE_integer("max_batch_size", 256, "Rows per Beam batch (one run_inference call).", lower_bound=1)
flags.DEFINE_integer("max_length", None, "Tokens kept per text (default: 128, or the model's limit).", lower_bound=1)
flags.DEFINE_list(
    "length_buckets", None, "Batch rows of similar length: character boundaries, e.g. 64,128,256 (stateful batching)."
)


def check_output_prefix(prefix):
    """A local `--output` whose folder is a file, or lies under one, is refused in one line."""
    import os

    from fastformers_tf.errors import UserError

    if "://" in prefix:
        return
    folder = os.path.dirname(os.path.abspath(prefix))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise UserError(f"--output={prefix}: {folder} is a file, not a folder.")


def main(argv):
    import logging

    from fastformers_tf import logs
    from fastformers_tf.errors import UserError

    if logs.is_quiet():  # Beam logs INFO/WARNING chatter through the root logger too
        logging.getLogger().setLevel(logging.ERROR)
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from fastformers_tf.score.handler import ExportModelHandler
    from fastformers_tf.score.pipeline import counters, score_files
    from fastformers_tf.score.read import ReadRows

    check_output_prefix(FLAGS.output)
    buckets = [int(b) for b in FLAGS.length_buckets] if FLAGS.length_buckets else None
    handler = ExportModelHandler(
        FLAGS.model,
        FLAGS.backend,
        FLAGS.precision,
        FLAGS.model_copies,
        FLAGS.threads,
        FLAGS.max_length,
        FLAGS.batch_size,
        max_batch_size=FLAGS.max_batch_size,
        length_buckets=buckets,
    )
    read = ReadRows(FLAGS.format, FLAGS.text_column, FLAGS.text_pair_column, FLAGS.id_column, FLAGS.header)
    options = argv[1:]
    known = PipelineOptions(options).get_all_options()
    for arg in options:
        name = arg.lstrip("-").split("=", 1)[0].replace("-", "_")
        if arg.startswith("-") and name not in known:
            raise app.UsageError(
                f"Unknown flag {arg.split('=', 1)[0]}: neither this tool's nor a Beam pipeline option."
            )
    if buckets and not any(arg.startswith("--runner") for arg in options):
        # Length buckets are stateful batching with timers, which the local DirectRunner's
        # bundle-based fallback fails on; the FnApiRunner (the DirectRunner's usual engine) runs it.
        options.append("--runner=FnApiRunner")
    pipeline = beam.Pipeline(options=PipelineOptions(options))
    _, dead_path = score_files(pipeline, FLAGS.input, FLAGS.output, handler, read)
    result = pipeline.run()
    result.wait_until_finish()
    counts = counters(result)
    rows, predicted = counts.get("rows", 0), counts.get("predicted_rows", 0)
    print(
        f"{rows} rows: {predicted} predicted, {counts.get('rejected_rows', 0)} rejected when read, "
        f"{counts.get('failed_rows', 0)} failed in inference; {counts.get('blank_lines', 0)} blank lines skipped "
        f"(dead letter: {dead_path})"
    )
    if not predicted:
        raise UserError(f"no row was predicted (of {rows}): see {dead_path}" if rows else "the input has no rows")


if __name__ == "__main__":
    cli.run(main, pass_unknown_flags=True)
