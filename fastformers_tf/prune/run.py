"""`prune_model(recipe)`: the pruning stage (score, plan, remove, re-distil), laid out like the other stages.

Writes to the output directory:
  - `pruned/`: the pruned model (before re-distillation) with its tokenizer,
    `prune_plan.json` (indices of the input model), `importance.json` (the
    scores of each step) and `prune_targets.json`;
  - `redistill/`: the re-distillation run (`best/`, `metrics.json`), when
    `prune.redistill_epochs > 0`;
  - `steps/`: the intermediate models of an iterative run;
  - `metrics.json` (accuracy and sizes before pruning, after pruning and after
    re-distillation; the scoring split) and `recipe.yaml`, last.
"""

import dataclasses
import json
import os
import time

from fastformers_tf.artifacts import write_json
from fastformers_tf.data import get_task
from fastformers_tf.models.encoder import encoder_of
from fastformers_tf.models.pretrained import load_tokenizer
from fastformers_tf.models.saving import load_model, save_model
from fastformers_tf.prune.allocation import make_plan, plan_for_totals, step_targets, summary
from fastformers_tf.prune.apply import prune
from fastformers_tf.prune.importance import importance
from fastformers_tf.recipe import RecipeError, recipe_yaml, save_recipe, validate

PLAN_FILE, SCORES_FILE, TARGETS_FILE = "prune_plan.json", "importance.json", "prune_targets.json"


def _targets(cfg):
    return {
        "target_heads": cfg.target_heads,
        "target_ffn": cfg.target_ffn,
        "target_params": cfg.target_params,
        "allocation": cfg.allocation,
        "multiple_of": cfg.multiple_of,
        "min_heads": cfg.min_heads,
        "iterations": cfg.iterations,
    }


def check(recipe):
    """The recipe's `prune` section, checked before anything loads; raises `RecipeError` naming the key."""
    cfg = validate(recipe).prune
    if not cfg.model:
        raise RecipeError("prune.model is empty: pass --model=DIR, a task model folder (e.g. a distilled best/).")
    if not (cfg.target_heads or cfg.target_ffn or cfg.target_params or cfg.sweep):
        raise RecipeError("prune: no target; set prune.target_heads, prune.target_ffn or prune.target_params.")
    if cfg.target_params and (cfg.target_heads or cfg.target_ffn):
        raise RecipeError("prune.target_params sets the heads and FFN targets; do not give target_heads/target_ffn.")
    if cfg.score_split == recipe.distill.eval_split and not cfg.allow_eval_scoring:
        raise RecipeError(
            f"prune.score_split={cfg.score_split} is the evaluation split (distill.eval_split): scores from it leak "
            "the evaluation data into the plan; pass prune.allow_eval_scoring=true to do it anyway (reported)."
        )
    return cfg


class Scorer:
    """Scores models on the recipe's scoring split, with the teacher's cached logits or the gold labels.

    When the teacher is the model being pruned (no `--teacher`), the KL to its
    own logits is flat (zero gradient) at the start: the teacher's predicted
    classes are used as labels instead (`"loss": "labels"` in the scores).
    """

    def __init__(self, recipe, task, teacher, tokenizer, teacher_tokenizer, verbose=1, self_teacher=False):
        from fastformers_tf.distill.cache import teacher_logits
        from fastformers_tf.distill.run import same_tokenizer
        from fastformers_tf.train.tasks import TaskData

        cfg, dcfg = recipe.prune, recipe.distill
        data_dir, cache_dir = recipe.resolved_data_dir(), recipe.resolved_cache_dir()

        def split_data(tok):
            return TaskData.read(
                task,
                cfg.score_split,
                data_dir,
                tok,
                dcfg.max_length,
                cache_dir,
                max_examples=cfg.score_examples,
                seed=recipe.seed,
                holdout=recipe.holdout_spec(),
            )

        self.data = split_data(tokenizer)
        self.logits = None
        if cfg.score_loss == "teacher":
            teacher_side = self.data if same_tokenizer(tokenizer, teacher_tokenizer) else split_data(teacher_tokenizer)
            self.logits, _ = teacher_logits(
                teacher,
                teacher_tokenizer,
                teacher_side,
                dcfg.max_length,
                dcfg.eval_batch_size,
                os.path.join(cache_dir, "teacher_logits"),
                progress=verbose > 0,
            )
        self.labels = None
        if self_teacher and self.logits is not None:
            self.logits, self.labels = None, self.logits.argmax(-1)
        self.cfg, self.verbose = cfg, verbose

    def __call__(self, model):
        return importance(
            model,
            self.data,
            self.cfg.batch_size,
            self.logits,
            self.labels,
            self.cfg.normalize_heads,
            progress=self.verbose > 0,
        )


def redistill(recipe, teacher, student_dir, output_dir, epochs, verbose=1):
    """Distils `teacher` into the model at `student_dir` (kept as it is) with the `distill` section; returns
    `(best model, summary)`."""
    from fastformers_tf.distill.run import distill

    as_is = dict(keep_layers=[], num_layers=0, hidden_dim=0, num_heads=0, intermediate_dim=0, activation="")
    section = dataclasses.replace(recipe.distill, teacher=teacher, student=student_dir, epochs=epochs, **as_is)
    sub = dataclasses.replace(recipe, distill=section, output_dir=output_dir)
    result = distill(sub, verbose=verbose)
    return load_model(os.path.join(output_dir, "best")), result


def _evaluate(evals, model, batch_size):
    metrics, _ = evals.evaluate(model, batch_size, progress=False)
    return metrics


def _record(model, metrics):
    return {"metrics": metrics, **summary(encoder_of(model).config), "parameters": int(model.count_params())}


def prune_model(recipe, verbose=1):
    """Prunes `recipe.prune.model` to the recipe's targets and re-distils it; returns the run summary."""
    from fastformers_tf.backend import keras
    from fastformers_tf.distill.cache import weights_digest
    from fastformers_tf.distill.run import load_teacher
    from fastformers_tf.train.tasks import TaskData

    cfg, dcfg = check(recipe), recipe.distill
    keras.utils.set_random_seed(recipe.seed)
    task = get_task(recipe.task)
    output_dir = recipe.resolved_output_dir()
    model = load_teacher(cfg.model, task, flag="--model")
    tokenizer = load_tokenizer(cfg.model)
    teacher_dir = cfg.teacher or cfg.model
    teacher = model if teacher_dir == cfg.model else load_teacher(teacher_dir, task)
    teacher_tokenizer = tokenizer if teacher_dir == cfg.model else load_tokenizer(teacher_dir)
    evals = TaskData.read(
        task,
        dcfg.eval_split,
        recipe.resolved_data_dir(),
        tokenizer,
        dcfg.max_length,
        recipe.resolved_cache_dir(),
        holdout=recipe.holdout_spec(),
    )
    self_teacher = teacher is model or weights_digest(teacher) == weights_digest(model)  # the same weights elsewhere
    scorer = Scorer(recipe, task, teacher, tokenizer, teacher_tokenizer, verbose, self_teacher=self_teacher)
    start = time.time()
    before = _record(model, _evaluate(evals, model, dcfg.eval_batch_size))
    print(f"{task.name}/{dcfg.eval_split} before pruning: {before['metrics']}")

    # === Score and prune, in one step or several ===
    config = encoder_of(model).config
    scores = scorer(model)
    final = make_plan(
        scores,
        config,
        cfg.target_heads,
        cfg.target_ffn,
        cfg.target_params,
        allocation=cfg.allocation,
        multiple_of=cfg.multiple_of,
        min_heads=cfg.min_heads,
    )
    if sum(final.num_heads) == 0:
        raise RecipeError(
            f"prune: the targets (heads {cfg.target_heads}, ffn {cfg.target_ffn}, params {cfg.target_params}) keep "
            f"no attention head in any layer ({sum(final.intermediate_dim)} FFN units in all): nothing would be left "
            "to attend; keep more."
        )
    totals = step_targets(config, sum(final.num_heads), sum(final.intermediate_dim), cfg.iterations)
    all_scores, steps, current, plan = [scores], [], model, None
    for step, (heads, units) in enumerate(totals, start=1):
        if step > 1:
            all_scores.append(scorer(current))
        step_plan = (
            final
            if cfg.iterations == 1
            else plan_for_totals(
                all_scores[-1], encoder_of(current).config, heads, units, cfg.allocation, cfg.multiple_of, cfg.min_heads
            )
        )
        plan = step_plan if plan is None else plan.then(step_plan)
        current = prune(current, step_plan)
        record = {"step": step, **_record(current, _evaluate(evals, current, dcfg.eval_batch_size))}
        if step < cfg.iterations and cfg.step_redistill_epochs:
            step_dir = os.path.join(output_dir, "steps", f"step{step}")
            save_model(current, step_dir, tokenizer)
            current, result = redistill(
                recipe, teacher_dir, step_dir, step_dir + "-kd", cfg.step_redistill_epochs, verbose
            )
            record["after_redistill"] = result["best"]
        steps.append(record)
        print(
            f"step {step}/{cfg.iterations}: heads {sum(encoder_of(current).config.num_heads)}, FFN units "
            f"{sum(encoder_of(current).config.intermediate_dim)}: {record['metrics']}"
        )

    # === Save the pruned model with what made it, then re-distil ===
    scored_on_eval = cfg.score_split == dcfg.eval_split
    scoring = {**scores.info, "scored_on_eval_split": scored_on_eval}
    targets = _targets(cfg)
    files = {
        PLAN_FILE: plan.to_json(),
        SCORES_FILE: json.dumps([s.to_dict() for s in all_scores]),
        TARGETS_FILE: json.dumps(targets),
        "recipe.yaml": recipe_yaml(recipe),
    }
    pruned_dir = os.path.join(output_dir, "pruned")
    save_model(current, pruned_dir, tokenizer, files=files)
    after = _record(current, steps[-1]["metrics"])
    result = {
        "task": task.name,
        "model": cfg.model,
        "teacher": teacher_dir,
        "eval_split": dcfg.eval_split,
        "scoring": scoring,
        "targets": targets,
        "before": before,
        "after_pruning": after,
        "steps": steps,
        "plan": json.loads(plan.to_json()),
    }
    if cfg.redistill_epochs:
        _, distilled = redistill(
            recipe, teacher_dir, pruned_dir, os.path.join(output_dir, "redistill"), cfg.redistill_epochs, verbose
        )
        result["after_redistill"] = {
            "metrics": distilled["best"],
            "best_epoch": distilled["best_epoch"],
            "epochs": distilled["epochs"],
        }
    result["wall_clock_s"] = round(time.time() - start, 1)
    if scored_on_eval:
        print(f"NOTE: scores came from {cfg.score_split}, the evaluation split: the numbers above are optimistic.")
    write_json(os.path.join(output_dir, "metrics.json"), result)
    save_recipe(recipe, os.path.join(output_dir, "recipe.yaml"))
    return result
