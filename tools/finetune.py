"""Fine-tune a pretrained encoder on a task (the teacher of later stages).

  python tools/finetune.py --task=rte --model=all-MiniLM-L6-v2 --output_dir=runs/rte/minilm
  python tools/finetune.py --task=sst2 --params_override=finetune.max_train_examples=20000

Recipe order: defaults, configs/<task>.yaml, --config_file, --params_override.
"""

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("task", None, "Task name, e.g. rte, cb, sst2.", required=True)
flags.DEFINE_string("model", None, "Pretrained model name or directory (overrides the recipe).")
flags.DEFINE_string("output_dir", None, "Where to write the run (default runs/<task>).")
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_string("config_file", None, "A YAML recipe applied after configs/<task>.yaml.")
flags.DEFINE_list("params_override", [], "Dotted overrides, e.g. finetune.epochs=2,finetune.learning_rate=1e-4.")


def main(argv):
    del argv
    from fastformers_tf.recipe import load_recipe

    overrides = list(FLAGS.params_override)
    for key in ("model", "output_dir", "data_dir"):
        if FLAGS[key].value is not None:
            overrides.append(f"{key}={FLAGS[key].value}")
    recipe = load_recipe(FLAGS.task, FLAGS.config_file, overrides)  # validated before TensorFlow loads
    from fastformers_tf.train.finetune import finetune

    summary = finetune(recipe)
    print(f"best {summary['eval_split']} {summary['best']} at epoch {summary['best_epoch']}, "
          f"{summary['wall_clock_s']} s; model in {recipe.resolved_output_dir()}/best")  # fmt: skip


if __name__ == "__main__":
    cli.run(main)
