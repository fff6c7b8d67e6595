"""Teacher fine-tuning: a pretrained encoder + task head, trained with `model.fit`."""

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import time

from fastformers_tf.artifacts import write_json
from fastformers_tf.backend import keras, tf
from fastformers_tf.data import get_task
from fastformers_tf.models.encoder import encoder_of
from fastformers_tf.models.pretrained import from_pretrained, load_tokenizer
from fastformers_tf.models.saving import copy_model_folder, is_saved_model_dir, save_model
from fastformers_tf.recipe import RecipeError, recipe_yaml, save_recipe, validate
from fastformers_tf.runtime.keras_predictor import KerasPredictor
from fastformers_tf.train.distribute import best_folder, distributed, is_chief, make_strategy
from fastformers_tf.train.optim import adamw_of
from fastformers_tf.train.resume import fit_keeping_best, plan_steps, run_key, save_state
from fastformers_tf.train.tasks import TaskData, build_task_model

logger = logging.getLogger(__name__)


class KeepBest(keras.callbacks.Callback):
    """Evaluates the task metric after every epoch and saves the best model.

    The metric values join Keras' epoch logs as `val_<name>`, so TensorBoard
    (placed after this callback) shows them; each evaluation prints one line. `target`, a
    function returning the model to score and save, replaces the model being
    fit (a `Distiller` saves its student).
    """

    def __init__(self, data, directory, tokenizer, batch_size, recipe, target=None):
        super().__init__()
        self.data, self.directory, self.tokenizer, self.batch_size = data, directory, tokenizer, batch_size
        self.recipe, self.target = recipe, target
        self.history, self.best, self.best_epoch = [], None, None
        self.predictor = None
        self.evals_per_epoch, self.state_file, self.key = 1, None, None  # set by `fit_keeping_best`

    def restore(self, state):
        """Takes the evaluations of an interrupted run (`fastformers_tf.train.resume`)."""
        self.history, self.best, self.best_epoch = state["history"], state["best"], state["best_epoch"]

    def on_epoch_end(self, epoch, logs=None):
        model = self.target() if self.target else self.model
        # One predictor (one traced tf.function) per model: the weights it
        # reads are updated in place, so re-tracing every epoch is wasted work.
        if self.predictor is None or self.predictor.model is not model:
            self.predictor = KerasPredictor(model, batch_size=self.batch_size)
        metrics, _ = self.data.evaluate(self.predictor, self.batch_size)
        at = round((epoch + 1) / self.evals_per_epoch, 3)  # in epochs: 0.5 is half-way through the first
        at = int(at) if at == int(at) else at
        self.history.append({"epoch": at, **metrics, "loss": float((logs or {}).get("loss", float("nan")))})
        main = next(iter(metrics))
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in metrics.items()})
        if self.best is None or metrics[main] > self.best[main]:
            self.best, self.best_epoch = metrics, at
            save_model(model, self.directory, self.tokenizer, files={"recipe.yaml": recipe_yaml(self.recipe)})
        save_state(self)
        print(
            f"epoch {at}: train loss {self.history[-1]['loss']:.4f}; {self.data.task.name}/{self.data.split} "
            f"{metrics} (best {main}: {self.best[main]:.4f})",
            flush=True,
        )


def reinit_top_layers(encoder, count, seed, initializer_range=0.02):
    """Gives the top `count` Transformer layers of `encoder` fresh weights, in place (Zhang et al. 2021).

    Kernels are drawn from a truncated normal of `initializer_range` (as BERT
    initialises them), biases set to 0, LayerNorm scales to 1 and offsets to 0.
    """
    layers = encoder.transformer_layers
    if count > len(layers):
        raise RecipeError(f"finetune.reinit_layers={count}: the encoder has only {len(layers)} layers.")
    init = keras.initializers.TruncatedNormal(stddev=initializer_range, seed=seed)
    for layer in layers[len(layers) - count :]:
        for variable in layer.weights:
            name = variable.name.split("/")[-1].split(":")[0]
            if name == "kernel":
                variable.assign(init(variable.shape, variable.dtype))
            elif name == "gamma":
                variable.assign(tf.ones_like(variable))
            else:  # bias, beta
                variable.assign(tf.zeros_like(variable))


def finetune(recipe, verbose=1, callbacks=(), resume_dir=None):
    """Fine-tunes `recipe.model` on `recipe.task`; returns the run summary.

    Writes to the output directory: `best/` (best model by the task's main
    metric, with tokenizer and recipe), `logs/` (TensorBoard), and at the end
    `recipe.yaml` (resolved recipe) and `metrics.json` (every evaluation, the
    best, wall-clock). The model is evaluated `finetune.evals_per_epoch` times
    per epoch; until the run ends, its checkpoint and best model live in
    `resume_dir` (default `<output_dir>/resume`), so a rerun of a killed run
    goes on from its last evaluation (`fastformers_tf.train.resume`). With
    `finetune.seeds`, one run per seed (`seeds/<seed>/`), the best kept (see
    `finetune_seeds`). Everything is validated (recipe, model, data) before
    anything is written. Under `recipe.strategy` the model and optimizer live
    on every replica, and only the chief writes; `callbacks` join `fit`'s.
    """
    if validate(recipe).finetune.seeds:
        return finetune_seeds(recipe, verbose, callbacks, resume_dir)
    cfg = recipe.finetune
    strategy = make_strategy(recipe.strategy)  # first: a multi-worker strategy configures TensorFlow's runtime
    chief = is_chief(strategy)
    keras.utils.set_random_seed(recipe.seed)
    task = get_task(recipe.task)
    output_dir = recipe.resolved_output_dir()
    tokenizer = load_tokenizer(recipe.model)
    data_args = dict(
        data_dir=recipe.resolved_data_dir(),
        tokenizer=tokenizer,
        max_length=cfg.max_length,
        cache_dir=recipe.resolved_cache_dir(),
        holdout=recipe.holdout_spec(),
    )
    with strategy.scope():  # the model's and the optimizer's variables live on every replica
        encoder = encoder_of(from_pretrained(recipe.model))
        if cfg.max_length > encoder.config.max_tokens:
            raise RecipeError(
                f"finetune.max_length={cfg.max_length} exceeds the {encoder.config.max_tokens} tokens "
                f"{recipe.model}'s position table covers."
            )
        encoder = encoder.with_options(dropout=cfg.dropout, attention_dropout=cfg.dropout)
        if cfg.reinit_layers:
            reinit_top_layers(encoder, cfg.reinit_layers, recipe.seed)
        train = TaskData.read(task, cfg.train_split, max_examples=cfg.max_train_examples, seed=recipe.seed, **data_args)
        evals = TaskData.read(task, cfg.eval_split, **data_args)
        model = build_task_model(task, encoder, cfg.dropout, cfg.pooling)
        dataset = distributed(train.dataset(model, cfg.batch_size, cfg.bucket_window, recipe.seed))
        _, _, total_steps = plan_steps(dataset, cfg.epochs, cfg.evals_per_epoch)
        model.compile(
            optimizer=adamw_of(cfg, total_steps),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    tensorboard = keras.callbacks.TensorBoard(log_dir=os.path.join(output_dir, "logs"))  # other workers: a temp dir
    replicas = f", {strategy.num_replicas_in_sync} replicas" if strategy.num_replicas_in_sync > 1 else ""
    print(
        f"{task.name}: {len(train)} train / {len(evals)} {evals.split} examples, {total_steps} steps, "
        f"{cfg.evals_per_epoch * cfg.epochs} evaluations{replicas}"
    )
    start = time.time()
    with (
        best_folder(output_dir, chief) as best,
        resume_folder(resume_dir or os.path.join(output_dir, "resume"), chief) as resume,
    ):
        keep_best = KeepBest(evals, best, tokenizer, cfg.eval_batch_size, recipe)
        fit_keeping_best(
            model,
            dataset,
            cfg.epochs,
            cfg.evals_per_epoch,
            keep_best,
            resume,
            run_key(recipe),
            best if chief else None,
            [tensorboard, *callbacks],
            verbose,
        )
    summary = {
        "task": task.name,
        "model": recipe.model,
        "train_examples": len(train),
        "eval_split": cfg.eval_split,
        "eval_examples": len(evals),
        "holdout": train.carve.record() if train.carve is not None else None,
        "epochs": keep_best.history,
        "best": keep_best.best,
        "best_epoch": keep_best.best_epoch,
        "wall_clock_s": round(time.time() - start, 1),
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
    }
    if chief:
        write_json(os.path.join(output_dir, "metrics.json"), summary)
        save_recipe(recipe, os.path.join(output_dir, "recipe.yaml"))
    return summary


def finetune_seeds(recipe, verbose=1, callbacks=(), resume_dir=None):
    """One fine-tuning run per seed of `finetune.seeds`, in `seeds/<seed>/`; the best on `eval_split` becomes `best/`.

    A seed whose folder already holds a finished run of this recipe is not run
    again, so a rerun after a kill goes on with the seed it stopped in. With
    `resume_dir` (a compress stage, whose output folder a rerun redoes) the
    seeds run in `<resume_dir>/seeds/<seed>/`, kept there across kills, and
    move into `seeds/` at the end. `metrics.json` lists every seed's best
    metric with their mean and std.
    """
    import numpy as np

    output_dir = recipe.resolved_output_dir()
    seeds_dir = os.path.join(resume_dir or output_dir, "seeds")
    task = get_task(recipe.task)
    runs = []
    for seed in recipe.finetune.seeds:
        sub = dataclasses.replace(
            recipe,
            seed=seed,
            output_dir=os.path.join(seeds_dir, str(seed)),
            finetune=dataclasses.replace(recipe.finetune, seeds=[]),
        )
        summary = _finished(sub)
        if summary is None:
            print(f"finetune: seed {seed} ({len(runs) + 1} of {len(recipe.finetune.seeds)})")
            summary = finetune(sub, verbose, callbacks)
        runs.append((seed, sub, summary))
    main = next(iter(runs[0][2]["best"]))
    values = np.array([summary["best"][main] for _, _, summary in runs])
    seed, best_sub, best_summary = runs[int(np.argmax(values))]
    copy_model_folder(os.path.join(best_sub.resolved_output_dir(), "best"), os.path.join(output_dir, "best"))
    summary = {
        **{k: v for k, v in best_summary.items() if k != "wall_clock_s"},
        "best_seed": seed,
        "seeds": [
            {"seed": s, "best": r["best"], "best_epoch": r["best_epoch"], "wall_clock_s": r["wall_clock_s"]}
            for s, _, r in runs
        ],
        "across_seeds": {
            "metric": main,
            "split": recipe.finetune.eval_split,
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()),
            "max": float(values.max()),
        },
        "wall_clock_s": round(sum(r["wall_clock_s"] for _, _, r in runs), 1),
    }
    write_json(os.path.join(output_dir, "metrics.json"), summary)
    save_recipe(recipe, os.path.join(output_dir, "recipe.yaml"))
    if resume_dir:
        shutil.move(seeds_dir, os.path.join(output_dir, "seeds"))
    print(
        f"{task.name}: best seed {seed}; {main} on {recipe.finetune.eval_split} over {len(values)} seeds: "
        f"mean {values.mean():.4f}, std {summary['across_seeds']['std']:.4f}"
    )
    return summary


def _finished(recipe):
    """The summary of a complete run of exactly `recipe` in its output folder, else None."""
    import json

    folder = recipe.resolved_output_dir()
    metrics, saved = os.path.join(folder, "metrics.json"), os.path.join(folder, "recipe.yaml")
    if not (os.path.isfile(metrics) and os.path.isfile(saved) and is_saved_model_dir(os.path.join(folder, "best"))):
        return None
    with open(saved, encoding="utf-8") as f:
        if f.read() != recipe_yaml(recipe):
            return None
    with open(metrics, encoding="utf-8") as f:
        return json.load(f)


@contextlib.contextmanager
def resume_folder(path, chief):
    """`path` on the chief; another worker keeps its checkpoint in a temporary folder, removed at the end."""
    if chief:
        yield path
        return
    folder = tempfile.mkdtemp(prefix="fastformers-worker-resume-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
