"""`fit_keeping_best`: `fit` evaluated several times per epoch, the best model kept, resumable after a kill.

A run's resume folder holds:

    backup/      Keras' `BackupAndRestore` checkpoint (weights, optimizer, epoch), after every evaluation
    best/        the best model so far (a model folder)
    state.json   the run's key and every evaluation so far (`KeepBest`'s history)

A rerun of the same command (same recipe: the key matches) restores the
weights and optimizer of the last evaluation and goes on from there, so a
killed run loses at most the steps since its last evaluation; the batch order
of the interrupted epoch is drawn again. A rerun with another recipe starts
over. When `fit` ends, `best/` is moved to where the caller wants it and the
folder is removed.
"""

import hashlib
import math
import os
import shutil

from fastformers_tf.artifacts import move_into_place, write_json
from fastformers_tf.backend import keras
from fastformers_tf.progress import bar
from fastformers_tf.recipe import recipe_yaml

STATE_FILE = "state.json"


def run_key(recipe):
    """A digest of the recipe without its output folder (a compress stage writes into a temporary one)."""
    import dataclasses

    text = recipe_yaml(dataclasses.replace(recipe, output_dir=""))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_steps(dataset, epochs, evals_per_epoch):
    """`(steps_per_evaluation, evaluations, total_steps)` for `epochs` over `dataset` (a finite tf.data dataset)."""
    steps = int(dataset.cardinality())
    per_eval = max(1, math.ceil(steps / evals_per_epoch))
    evaluations = epochs * evals_per_epoch
    return per_eval, evaluations, per_eval * evaluations


def _read_state(resume_dir, key):
    import json

    path = os.path.join(resume_dir, STATE_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except ValueError:
        return None
    return state if state.get("key") == key else None


class StepBar(keras.callbacks.Callback):
    """The training steps between two evaluations as a `progress.bar` (in place of Keras' own), with the loss."""

    def on_epoch_begin(self, epoch, logs=None):
        self.bar = bar(
            total=self.params.get("steps"), desc=f"train {epoch + 1}/{self.params['epochs']}", unit="step", leave=False
        )

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update()
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()


def fit_keeping_best(
    model, dataset, epochs, evals_per_epoch, keep_best, resume_dir, key, best_dir, callbacks=(), verbose=1
):
    """Fits `model` on `dataset` (one epoch per pass), `keep_best` evaluating `evals_per_epoch` times an epoch.

    `keep_best` (a `KeepBest`) saves into `<resume_dir>/best`; when the fit
    ends that folder is moved to `best_dir` (None: left where it is, for a
    worker that is not the chief). Returns `keep_best`.
    """
    state = _read_state(resume_dir, key)
    if state is None and os.path.isdir(resume_dir):
        shutil.rmtree(resume_dir)  # another run's, or a run that never evaluated
    os.makedirs(resume_dir, exist_ok=True)
    keep_best.directory = os.path.join(resume_dir, "best")
    keep_best.state_file = os.path.join(resume_dir, STATE_FILE)
    keep_best.key = key
    keep_best.evals_per_epoch = evals_per_epoch
    if state is not None and os.path.isdir(keep_best.directory):
        keep_best.restore(state)
        print(f"resuming {resume_dir}: {len(state['history'])} of {epochs * evals_per_epoch} evaluations done")
    per_eval, evaluations, _ = plan_steps(dataset, epochs, evals_per_epoch)
    backup = keras.callbacks.BackupAndRestore(os.path.join(resume_dir, "backup"))
    if evals_per_epoch > 1:
        dataset, steps = dataset.repeat(), per_eval
    else:
        steps = None
    progress = [StepBar()] if verbose else []
    model.fit(
        dataset,
        epochs=evaluations,
        steps_per_epoch=steps,
        callbacks=[backup, *progress, keep_best, *callbacks],
        verbose=0,
    )
    if best_dir is not None:
        move_into_place(keep_best.directory, best_dir)
        keep_best.directory = best_dir
        shutil.rmtree(resume_dir, ignore_errors=True)
    return keep_best


def save_state(keep_best):
    """Writes `keep_best`'s evaluations so far next to its checkpoint."""
    if getattr(keep_best, "state_file", None):
        write_json(
            keep_best.state_file,
            {
                "key": keep_best.key,
                "history": keep_best.history,
                "best": keep_best.best,
                "best_epoch": keep_best.best_epoch,
            },
        )
