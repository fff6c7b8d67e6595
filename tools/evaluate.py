"""Score a fine-tuned model (or its export) on a task split, or write SuperGLUE submission files.

  python tools/evaluate.py --model=runs/rte/best --task=rte --split=val
  python tools/evaluate.py --model=runs/rte/best --task=rte --split=test --predictions_dir=runs/rte/submission
  python tools/evaluate.py --model=runs/rte/export --backend=onnx --precision=int8 --task=rte \
      --reference=runs/rte/best

Labeled splits print the task's metrics. With --reference, the same split is
also scored with the reference model (e.g. the fp32 Keras model an int8 export
came from), and the prediction agreement and metric differences are printed.
With --predictions_dir the split's predictions are written in the SuperGLUE
submission format (e.g. RTE.jsonl). Several models (--model=a,b) are scored as
an ensemble, their logits averaged as `distill.teacher=[a,b]` averages them,
each member's metrics printed beside it.

  python tools/evaluate.py --model=runs/rte/teacher/seeds/42/best,runs/rte/teacher/seeds/43/best --task=rte
"""

import json
import os

import numpy as np
from absl import app, flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "model",
    None,
    "A model directory written by tools/finetune.py, or an export (tools/export.py); several, "
    "comma-separated: an ensemble (logits averaged).",
    required=True,
)
flags.DEFINE_string("reference", None, "Also score this model (backend auto) and print agreement with it.")
flags.DEFINE_string("task", None, "Task name.", required=True)
flags.DEFINE_string("split", "val", "Split to score or predict; 'holdout': the hold-out of the model's recipe.")
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_string("predictions_dir", None, "Write the SuperGLUE submission file for this split here.")
cli.define_predictor_flags(batch_size=64)
FLAGS["max_length"].help = "Tokens per example (default: the model's training recipe, else the predictor's)."


def training_max_length(model):
    """`finetune.max_length` of the recipe saved beside a model or export directory or file, else None."""
    from fastformers_tf.recipe import recipe_beside

    recipe = recipe_beside(model)
    return recipe.finetune.max_length if recipe else None


def ensemble_probs(member_probs):
    """The softmax of the members' averaged logits (log-probabilities differ from logits by a constant per row)."""
    logits = np.mean([np.log(np.clip(p, 1e-12, 1.0)) for p in member_probs], axis=0)
    logits -= logits.max(-1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


def main(argv):
    del argv
    from fastformers_tf.artifacts import write_text
    from fastformers_tf.data import get_task
    from fastformers_tf.data.task_data import TaskData
    from fastformers_tf.recipe import default_data_dir, shared_holdout
    from fastformers_tf.runtime.load import load_predictor

    task = get_task(FLAGS.task)
    # The hold-out (and train without it) is cut as the models' own training recipes cut it.
    holdout = shared_holdout(FLAGS.model, FLAGS.split)
    member_probs = []
    for model in FLAGS.model:
        max_length = FLAGS.max_length or training_max_length(model)
        predictor = load_predictor(
            model, FLAGS.backend, FLAGS.precision, FLAGS.threads, FLAGS.instances, max_length, FLAGS.batch_size
        )
        # Each member reads the split with its own tokenizer; the examples are the same.
        data = TaskData.read(
            task,
            FLAGS.split,
            FLAGS.data_dir or default_data_dir(),
            predictor.tokenizer,
            predictor.max_length,
            holdout=holdout,
        )
        if predictor.labels is not None and len(predictor.labels) != len(task.labels):
            predictor.close()
            raise app.UsageError(
                f"--model={model} has {len(predictor.labels)} labels {predictor.labels}; task {task.name} has "
                f"{len(task.labels)} {list(task.labels)}."
            )
        with predictor:
            member_probs.append(data.predict_probs(predictor, FLAGS.batch_size))
        answered = getattr(predictor, "answered", None)  # a cascade: the texts each stage answered
    max_length = predictor.max_length
    probs = member_probs[0] if len(member_probs) == 1 else ensemble_probs(member_probs)
    labeled = (data.features.labels >= 0).all()
    result = {"task": task.name, "split": FLAGS.split, "examples": len(data)}
    if answered is not None and len(FLAGS.model) == 1:
        result["answered_by_stage"] = answered
    if labeled:
        result.update(task.metric(data.examples, probs))
        if len(member_probs) > 1:
            result["members"] = {
                m: task.metric(data.examples, p) for m, p in zip(FLAGS.model, member_probs, strict=True)
            }
    if FLAGS.reference:
        with load_predictor(FLAGS.reference, max_length=max_length, batch_size=FLAGS.batch_size) as reference:
            reference_probs = data.predict_probs(reference, FLAGS.batch_size)
        result["agreement_with_reference"] = float(np.mean(probs.argmax(-1) == reference_probs.argmax(-1)))
        if labeled:
            reference_metrics = task.metric(data.examples, reference_probs)
            result["reference"] = reference_metrics
            result["difference"] = {k: result[k] - v for k, v in reference_metrics.items()}
    if labeled or FLAGS.reference:
        print(json.dumps(result))
    if not labeled:
        print(f"{task.name}/{FLAGS.split} has no labels: nothing to score.")
    if FLAGS.predictions_dir:
        if task.predictions is None or task.submission_file is None:
            raise app.UsageError(f"Task {task.name!r} has no submission format.")
        path = os.path.join(FLAGS.predictions_dir, task.submission_file)
        write_text(path, "".join(json.dumps(record) + "\n" for record in task.predictions(data.examples, probs)))
        print(f"wrote {path}")


if __name__ == "__main__":
    cli.run(main)
