"""Teacher fine-tuning: a pretrained encoder + task head, trained with `model.fit`."""

import json
import logging
import os
import time

from fastformers_tf.backend import keras, tf
from fastformers_tf.data import get_task
from fastformers_tf.models.encoder import TransformerEncoder
from fastformers_tf.models.pretrained import from_pretrained, load_tokenizer
from fastformers_tf.models.saving import save_model
from fastformers_tf.recipe import save_recipe
from fastformers_tf.runtime.keras_predictor import KerasPredictor
from fastformers_tf.train.optim import adamw
from fastformers_tf.train.tasks import TaskData, build_task_model

logger = logging.getLogger(__name__)


class KeepBest(keras.callbacks.Callback):
    """Evaluates the task metric after every epoch and saves the best model.

    The metric values join Keras' epoch logs as `val_<name>`, so the progress
    bar and TensorBoard (placed after this callback) show them.
    """

    def __init__(self, data, directory, tokenizer, batch_size, recipe):
        super().__init__()
        self.data, self.directory, self.tokenizer, self.batch_size = data, directory, tokenizer, batch_size
        self.recipe = recipe
        self.history, self.best, self.best_epoch = [], None, None
        self.predictor = None

    def on_epoch_end(self, epoch, logs=None):
        # One predictor (one traced tf.function) for the whole run: the weights
        # it reads are updated in place, so re-tracing every epoch is wasted work.
        if self.predictor is None:
            self.predictor = KerasPredictor(self.model, batch_size=self.batch_size)
        metrics, _ = self.data.evaluate(self.predictor, self.batch_size)
        self.history.append({"epoch": epoch + 1, **metrics, "loss": float((logs or {}).get("loss", float("nan")))})
        main = next(iter(metrics))
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in metrics.items()})
        if self.best is None or metrics[main] > self.best[main]:
            self.best, self.best_epoch = metrics, epoch + 1
            save_model(self.model, self.directory, tokenizer=self.tokenizer)
            save_recipe(self.recipe, os.path.join(self.directory, "recipe.yaml"))
        print(
            f"epoch {epoch + 1}: {self.data.task.name}/{self.data.split} {metrics} (best {main}: {self.best[main]:.4f})"
        )


def _encoder(model):
    return model if isinstance(model, TransformerEncoder) else model.encoder


def finetune(recipe, verbose=1):
    """Fine-tunes `recipe.model` on `recipe.task`; returns the run summary.

    Writes to the output directory: `recipe.yaml` (resolved recipe), `best/`
    (best model by the task's main metric, with tokenizer), `logs/`
    (TensorBoard) and `metrics.json` (per-epoch metrics, best, wall-clock).
    """
    cfg = recipe.finetune
    keras.utils.set_random_seed(recipe.seed)
    task = get_task(recipe.task)
    output_dir = recipe.resolved_output_dir()
    save_recipe(recipe, os.path.join(output_dir, "recipe.yaml"))
    tokenizer = load_tokenizer(recipe.model)
    encoder = _encoder(from_pretrained(recipe.model)).with_options(dropout=cfg.dropout, attention_dropout=cfg.dropout)
    data_args = dict(
        data_dir=recipe.resolved_data_dir(),
        tokenizer=tokenizer,
        max_length=cfg.max_length,
        cache_dir=recipe.resolved_cache_dir(),
    )
    train = TaskData(task, cfg.train_split, max_examples=cfg.max_train_examples, seed=recipe.seed, **data_args)
    evals = TaskData(task, cfg.eval_split, **data_args)
    model = build_task_model(task, encoder, cfg.dropout, cfg.pooling)
    dataset = train.dataset(model, cfg.batch_size, cfg.bucket_window, recipe.seed)
    total_steps = cfg.epochs * int(dataset.cardinality())
    model.compile(
        optimizer=adamw(cfg.learning_rate, total_steps, cfg.warmup_ratio, cfg.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    keep_best = KeepBest(evals, os.path.join(output_dir, "best"), tokenizer, cfg.eval_batch_size, recipe)
    tensorboard = keras.callbacks.TensorBoard(log_dir=os.path.join(output_dir, "logs"))
    print(f"{task.name}: {len(train)} train / {len(evals)} {cfg.eval_split} examples, {total_steps} steps")
    start = time.time()
    model.fit(dataset, epochs=cfg.epochs, callbacks=[keep_best, tensorboard], verbose=verbose)
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
    with open(os.path.join(output_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary
