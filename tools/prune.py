"""Prune a fine-tuned or distilled task model's heads and FFN units, then re-distil it.

  python tools/prune.py --task=sst2 --model=runs/sst2/kd/best --target_heads=8 --target_ffn=768 \
      --output_dir=runs/sst2/pruned
  python tools/prune.py --task=rte --model=runs/rte/kd/best --target_params=0.5 --allocation=global \
      --iterations=2 --output_dir=runs/rte/pruned
  python tools/prune.py --task=sst2 --model=runs/sst2/kd/best --sweep=0.7,0.5,0.3 --output_dir=runs/sst2/sweep

Targets: a fraction in (0, 1] of all heads/units/layer parameters, or a whole
number > 1 of heads/units per layer. Scores come from --params_override
prune.score_split (default train) with the KL to the teacher's cached logits;
re-distillation uses the recipe's `distill:` section for prune.redistill_epochs.
--sweep prunes to each fraction of the layers' parameters and writes
sweep.md/json/png: accuracy vs batch-1 ONNX INT8 latency, timed side by side.
"""

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
cli.define_recipe_flags("prune")
flags.DEFINE_string("model", None, "The task model folder to prune (e.g. a distilled runs/sst2/kd/best).")
flags.DEFINE_string("teacher", None, "Teacher for scoring and re-distillation (default: the unpruned --model).")
flags.DEFINE_float("target_heads", None, "Heads kept: a fraction of all, or a whole number per layer.")
flags.DEFINE_float("target_ffn", None, "FFN units kept: a fraction of all, or a whole number per layer.")
flags.DEFINE_float("target_params", None, "Transformer-layer parameters kept: a fraction or a count.")
flags.DEFINE_enum("allocation", None, ["uniform", "global"], "uniform: the same in every layer; global: ranked across.")
flags.DEFINE_integer("iterations", None, "Reach the target in this many score-and-prune steps.", lower_bound=1)
flags.DEFINE_list("sweep", None, "Fractions of the layers' parameters: prune to each and time them (Figure 2).")
flags.DEFINE_integer("threads", None, "Threads per ONNX Runtime session when timing a sweep.", lower_bound=1)


def main(argv):
    del argv
    keys = ("model", "teacher", "target_heads", "target_ffn", "target_params", "allocation", "iterations")
    if FLAGS.sweep:
        FLAGS.params_override = [*FLAGS.params_override, f"prune.sweep=[{','.join(FLAGS.sweep)}]"]
    recipe = cli.recipe_from_flags(*(f"prune.{key}" for key in keys))  # validated before TensorFlow loads
    from fastformers_tf.prune.run import check

    check(recipe)
    out = recipe.resolved_output_dir()
    if recipe.prune.sweep:
        from fastformers_tf.prune.sweep import sweep

        sweep(recipe, threads=FLAGS.threads)
        with open(f"{out}/sweep.md", encoding="utf-8") as f:
            print(f.read())
        return
    from fastformers_tf.prune.run import prune_model

    result = prune_model(recipe)
    final = result.get("after_redistill", result["after_pruning"])["metrics"]
    print(
        f"before {result['before']['metrics']}; pruned {result['after_pruning']['metrics']}; final {final}; "
        f"heads {sum(result['after_pruning']['heads'])}, FFN units {sum(result['after_pruning']['ffn'])}; "
        f"model in {out}/{'redistill/best' if 'after_redistill' in result else 'pruned'}"
    )


if __name__ == "__main__":
    cli.run(main)
