"""Benchmark: inference over a task split padded to a fixed length vs per batch.

  python tools/bench_padding.py --task=rte --model=all-MiniLM-L6-v2

Same model, same batches, same process; prints seconds per pass and the ratio.
The weights do not change the timing, so a pretrained encoder with a fresh
head is enough; pass a fine-tuned model directory to time that one.
"""

import json

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("task", "rte", "Task name.")
flags.DEFINE_string("split", "val", "Split to run over.")
flags.DEFINE_string("model", "all-MiniLM-L6-v2", "Pretrained encoder name or a saved model directory.")
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_integer("batch_size", 32, "Examples per batch.", lower_bound=1)
flags.DEFINE_integer(
    "fixed_length", 256, "Fixed padding length (also the truncation length for both modes).", lower_bound=2
)
flags.DEFINE_integer("repeats", 3, "Timed passes per mode (median reported).", lower_bound=1)


def main(argv):
    del argv
    import fastformers_tf as ff
    from fastformers_tf.bench.padding import time_padding
    from fastformers_tf.data import get_task
    from fastformers_tf.recipe import default_data_dir
    from fastformers_tf.train.tasks import TaskData, build_task_model

    task = get_task(FLAGS.task)
    model = ff.from_pretrained(FLAGS.model)
    if isinstance(model, ff.TransformerEncoder):
        model = build_task_model(task, model)
    data = TaskData.read(
        task, FLAGS.split, FLAGS.data_dir or default_data_dir(), ff.load_tokenizer(FLAGS.model), FLAGS.fixed_length
    )
    result = time_padding(model, data, FLAGS.batch_size, FLAGS.fixed_length, FLAGS.repeats)
    print(json.dumps({"task": task.name, "split": FLAGS.split, "model": FLAGS.model, **result}, indent=2))
    print(
        f"vs padding to {FLAGS.fixed_length}: per-batch padding {result['speedup_dynamic']:.2f}x faster, "
        f"length-sorted batches {result['speedup_sorted']:.2f}x faster"
    )


if __name__ == "__main__":
    cli.run(main)
