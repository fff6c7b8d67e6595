"""Benchmark: several models side by side at batch 1 on real texts, one backend, one run.

  python tools/bench_models.py --task=sst2 --split=glue_dev \
      --models=runs/sst2/best,runs/sst2/kd/best,runs/sst2/kd3/best --output=runs/sst2/bench_models.json

The first model is the baseline (the teacher): each model's median batch-1
latency and its speed-up over the baseline, on the split's first --examples
texts, the models taking turns. With --output, also the models' metrics.json
accuracy when found beside their folder, and the CPU, written atomically.
"""

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("task", "sst2", "Task name.")
flags.DEFINE_string("split", "glue_dev", "Split whose texts are timed.")
flags.DEFINE_list(
    "models", None, "Model folders (keras) or export folders (onnx/tflite); the first is the baseline.", required=True
)
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_string("output", None, "Write the result here as JSON.")
flags.DEFINE_integer("examples", 200, "Texts timed per model.", lower_bound=1)
flags.DEFINE_integer("rounds", 5, "Turns the models take.", lower_bound=1)
flags.DEFINE_enum("backend", "keras", ["keras", "onnx", "tflite"], "The one backend every model runs on.")
flags.DEFINE_enum("precision", "fp32", ["fp32", "int8", "fp16"], "Which file of an export directory to run.")
flags.DEFINE_integer("threads", None, "Threads per model (default: the backend's).", lower_bound=1)
flags.DEFINE_integer("max_length", None, "Tokens kept per text (default: 128, or the model's limit).", lower_bound=1)


def main(argv):
    del argv
    import json
    import os
    import platform

    from fastformers_tf.artifacts import write_json
    from fastformers_tf.bench.models import compare_folders
    from fastformers_tf.cpu import cpu_name
    from fastformers_tf.data import get_task
    from fastformers_tf.recipe import default_data_dir

    task = get_task(FLAGS.task)
    path = os.path.join(FLAGS.data_dir or default_data_dir(), task.files[FLAGS.split])
    examples = task.read(path, FLAGS.split)[: FLAGS.examples]
    result = compare_folders(
        FLAGS.models, examples, FLAGS.rounds, FLAGS.backend, FLAGS.precision, FLAGS.threads, FLAGS.max_length
    )
    for name, row in result.items():
        metrics = os.path.join(os.path.dirname(os.path.normpath(name)), "metrics.json")
        if os.path.isfile(metrics):
            with open(metrics, encoding="utf-8") as f:
                row["best"] = json.load(f).get("best")
        print(f"{row['median_ms']:8.2f} ms  {row['speedup']:5.2f}x  {row.get('best', '')}  {name}")
    record = {
        "task": task.name,
        "split": FLAGS.split,
        "examples": len(examples),
        "backend": FLAGS.backend,
        "threads": FLAGS.threads,
        "cpu": cpu_name(),
        "machine": platform.machine(),
        "models": result,
    }
    if FLAGS.output:
        write_json(FLAGS.output, record)


if __name__ == "__main__":
    cli.run(main)
