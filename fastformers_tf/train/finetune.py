"""Teacher fine-tuning: a pretrained encoder + task head, trained with `model.fit`."""

import logging
import os
import time

from fastformers_tf.artifacts import write_json
from fastformers_tf.backend import keras, tf
from fastformers_tf.data import get_task
from fastformers_tf.models.encoder import encoder_of
from fastformers_tf.models.pretrained import from_pretrained, load_tokenizer
from fastformers_tf.models.saving import save_model
from fastformers_tf.recipe import RecipeError, recipe_yaml, save_recipe, validate
from fastformers_tf.runtime.keras_predictor import KerasPredictor
from fastformers_tf.train.distribute import best_folder, distributed, is_chief, make_strategy
from fastformers_tf.train.optim import adamw
from fastformers_tf.train.tasks import TaskData, build_task_model

logger = logging.getLogger(__name__)


class KeepBest(keras.callbacks.Callback):
    """Evaluates the task metric after every epoch and saves the best model.

    The metric values join Keras' epoch logs as `val_<name>`, so the progress
    bar and TensorBoard (placed after this callback) show them. `target`, a
    function returning the model to score and save, replaces the model being
    fit (a `Distiller` saves its student).
    """

    def __init__(self, data, directory, tokenizer, batch_size, recipe, target=None):
        super().__init__()
        self.data, self.directory, self.tokenizer, self.batch_size = data, directory, tokenizer, batch_size
        self.recipe, self.target = recipe, target
        self.history, self.best, self.best_epoch = [], None, None
        self.predictor = None

    def on_epoch_end(self, epoch, logs=None):
        model = self.target() if self.target else self.model
        # One predictor (one traced tf.function) per model: the weights it
        # reads are updated in place, so re-tracing every epoch is wasted work.
        if self.predictor is None or self.predictor.model is not model:
            self.predictor = KerasPredictor(model, batch_size=self.batch_size)
        metrics, _ = self.data.evaluate(self.predictor, self.batch_size)
        self.history.append({"epoch": epoch + 1, **metrics, "loss": float((logs or {}).get("loss", float("nan")))})
        main = next(iter(metrics))
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in metrics.items()})
        if self.best is None or metrics[main] > self.best[main]:
            self.best, self.best_epoch = metrics, epoch + 1
            save_model(model, self.directory, self.tokenizer, files={"recipe.yaml": recipe_yaml(self.recipe)})
        print(
            f"epoch {epoch + 1}: {self.data.task.name}/{self.data.split} {metrics} (best {main}: {self.best[main]:.4f})"
        )


def finetune(recipe, verbose=1, callbacks=()):
    """Fine-tunes `recipe.model` on `recipe.task`; returns the run summary.

    Writes to the output directory: `best/` (best model by the task's main
    metric, with tokenizer and recipe; replaced atomically at each new best),
    `logs/` (TensorBoard), and at the end `recipe.yaml` (resolved recipe) and
    `metrics.json` (per-epoch metrics, best, wall-clock). Everything is
    validated (recipe, model, data) before anything is written, so a rerun
    that fails early leaves the previous run's files as they were. Under
    `recipe.strategy` the model and optimizer live on every replica, and only
    the chief writes; `callbacks` join `fit`'s.
    """
    cfg = validate(recipe).finetune
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
    )
    with strategy.scope():  # the model's and the optimizer's variables live on every replica
        encoder = encoder_of(from_pretrained(recipe.model))
        if cfg.max_length > encoder.config.max_tokens:
            raise RecipeError(
                f"finetune.max_length={cfg.max_length} exceeds the {encoder.config.max_tokens} tokens "
                f"{recipe.model}'s position table covers."
            )
        encoder = encoder.with_options(dropout=cfg.dropout, attention_dropout=cfg.dropout)
        train = TaskData(task, cfg.train_split, max_examples=cfg.max_train_examples, seed=recipe.seed, **data_args)
        evals = TaskData(task, cfg.eval_split, **data_args)
        model = build_task_model(task, encoder, cfg.dropout, cfg.pooling)
        dataset = distributed(train.dataset(model, cfg.batch_size, cfg.bucket_window, recipe.seed))
        total_steps = cfg.epochs * int(dataset.cardinality())
        model.compile(
            optimizer=adamw(cfg.learning_rate, total_steps, cfg.warmup_ratio, cfg.weight_decay),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    tensorboard = keras.callbacks.TensorBoard(log_dir=os.path.join(output_dir, "logs"))  # other workers: a temp dir
    replicas = f", {strategy.num_replicas_in_sync} replicas" if strategy.num_replicas_in_sync > 1 else ""
    print(f"{task.name}: {len(train)} train / {len(evals)} {cfg.eval_split} examples, {total_steps} steps{replicas}")
    start = time.time()
    with best_folder(output_dir, chief) as best:
        keep_best = KeepBest(evals, best, tokenizer, cfg.eval_batch_size, recipe)
        model.fit(dataset, epochs=cfg.epochs, callbacks=[keep_best, tensorboard, *callbacks], verbose=verbose)
    summary = {
        "task": task.name,
        "model": recipe.model,
        "train_examples": len(train),
        "eval_split": cfg.eval_split,
        "eval_examples": len(evals),
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
