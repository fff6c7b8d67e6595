"""Score a fine-tuned model on a task split, or write SuperGLUE submission files.

  python tools/evaluate.py --model=runs/rte/best --task=rte --split=val
  python tools/evaluate.py --model=runs/rte/best --task=rte --split=test --predictions_dir=runs/rte/submission

Labeled splits print the task's metrics. With --predictions_dir the split's
predictions are written in the SuperGLUE submission format (e.g. RTE.jsonl).
"""

import json
import os

from absl import app, flags

import fastformers_tf as ff
from fastformers_tf.data import get_task
from fastformers_tf.recipe import Recipe, default_data_dir, load_recipe
from fastformers_tf.train.tasks import TaskData

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A model directory written by tools/finetune.py.", required=True)
flags.DEFINE_string("task", None, "Task name.", required=True)
flags.DEFINE_string("split", "val", "Split to score or predict.")
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_integer("max_length", None, "Tokens per example (default: the model's training recipe, else 128).")
flags.DEFINE_integer("batch_size", 64, "Examples per forward pass.")
flags.DEFINE_string("predictions_dir", None, "Write the SuperGLUE submission file for this split here.")


def training_recipe(model_dir):
    path = os.path.join(model_dir, "recipe.yaml")
    return load_recipe(config_file=path) if os.path.isfile(path) else Recipe()


def main(argv):
    del argv
    task = get_task(FLAGS.task)
    model = ff.load_model(FLAGS.model)
    recipe = training_recipe(FLAGS.model)
    max_length = FLAGS.max_length or recipe.finetune.max_length
    data = TaskData(task, FLAGS.split, FLAGS.data_dir or default_data_dir(), ff.load_tokenizer(FLAGS.model), max_length)
    probs = data.predict_probs(model, FLAGS.batch_size)
    if (data.features.labels >= 0).all():
        print(
            json.dumps(
                {"task": task.name, "split": FLAGS.split, "examples": len(data), **task.metric(data.examples, probs)}
            )
        )
    else:
        print(f"{task.name}/{FLAGS.split} has no labels: nothing to score.")
    if FLAGS.predictions_dir:
        if task.predictions is None or task.submission_file is None:
            raise app.UsageError(f"Task {task.name!r} has no submission format.")
        os.makedirs(FLAGS.predictions_dir, exist_ok=True)
        path = os.path.join(FLAGS.predictions_dir, task.submission_file)
        with open(path, "w", encoding="utf-8") as f:
            for record in task.predictions(data.examples, probs):
                f.write(json.dumps(record) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
