"""Fine-tune a pretrained encoder on a task (the teacher of later stages).

  python tools/finetune.py --task=rte --model=all-MiniLM-L6-v2 --output_dir=runs/rte/minilm
  python tools/finetune.py --task=sst2 --params_override=finetune.max_train_examples=20000

Recipe order: defaults, configs/<task>.yaml, --config_file, --params_override.
"""

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
cli.define_strategy_flag()
cli.define_recipe_flags("finetune")
flags.DEFINE_string("model", None, "Pretrained model name or directory (overrides the recipe).")


def main(argv):
    del argv
    recipe = cli.recipe_from_flags("model", "strategy")  # validated before TensorFlow loads
    from fastformers_tf.train.finetune import finetune

    summary = finetune(recipe)
    print(
        f"best {summary['eval_split']} {summary['best']} at epoch {summary['best_epoch']}, "
        f"{summary['wall_clock_s']} s; model in {recipe.resolved_output_dir()}/best"
    )


if __name__ == "__main__":
    cli.run(main)
