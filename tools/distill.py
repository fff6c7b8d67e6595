"""Distil a fine-tuned teacher into a smaller student (soft labels; FastFormers: T=1, alpha=0).

  python tools/distill.py --task=rte --teacher=runs/rte/best --student=all-MiniLM-L6-v2 --output_dir=runs/rte/kd
  python tools/distill.py --task=sst2 --teacher=runs/sst2/best --keep_layers=1,3,5 --activation=relu \
      --transfer=augment:1 --output_dir=runs/sst2/kd3

Recipe order: defaults, configs/<task>.yaml, --config_file, --params_override
(the `distill:` section); the flags below override the recipe.
"""

from absl import app, flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
cli.define_strategy_flag()
cli.define_recipe_flags("distill")
flags.DEFINE_string("teacher", None, "The fine-tuned teacher's model folder (e.g. runs/rte/best).")
flags.DEFINE_string("student", None, "Student: a packaged name, checkpoint or model folder.")
flags.DEFINE_list("keep_layers", None, "Student layers to keep, e.g. 1,3,5.")
flags.DEFINE_string("activation", None, "Swap the student's FFN activation, e.g. relu.")
flags.DEFINE_multi_string("transfer", None, "Extra transfer sources: split:NAME, file:PATH, augment:N.")


def _overrides():
    overrides = []
    if FLAGS.keep_layers is not None:
        bad = [v for v in FLAGS.keep_layers if not v.strip().isdigit()]
        if bad:
            raise app.UsageError(f"flag --keep_layers={','.join(FLAGS.keep_layers)}: {bad} are not layer indices")
        overrides.append(f"distill.keep_layers=[{','.join(v.strip() for v in FLAGS.keep_layers)}]")
    if FLAGS.transfer:
        overrides.append("distill.transfer=[" + ",".join(f"'{v}'" for v in FLAGS.transfer) + "]")
    return overrides


def main(argv):
    del argv
    FLAGS.params_override = [*FLAGS.params_override, *_overrides()]  # after them, as the other flags
    # Validated before TensorFlow loads.
    recipe = cli.recipe_from_flags("distill.teacher", "distill.student", "distill.activation", "strategy")
    from fastformers_tf.distill.run import distill

    summary = distill(recipe)
    where = f"{recipe.resolved_output_dir()}/best"
    print(
        f"teacher {summary['teacher_metrics']}; best student {summary['eval_split']} {summary['best']} "
        f"at epoch {summary['best_epoch']}, {summary['wall_clock_s']} s; model in {where}"
    )


if __name__ == "__main__":
    cli.run(main)
