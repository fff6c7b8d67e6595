"""Stage folders of the compression job: written whole or not at all, skipped when already done.

Each stage writes `<workdir>/<stage>/` through `artifacts.writing`: into a
temporary folder beside it, renamed into place once complete, `manifest.json`
last. A stage killed halfway leaves only its `.<stage>.partial-*` folder, which
the next run removes before redoing the stage. `stage.json` records the
stage's key: a digest of the recipe sections it reads and of the keys of the
stages it builds on. A rerun skips a complete stage whose key matches and
redoes one whose recipe (or an upstream stage) changed.

Nothing here imports TensorFlow.
"""

import dataclasses
import hashlib
import json
import os
import time

from omegaconf import OmegaConf

from fastformers_tf import artifacts
from fastformers_tf.artifacts import ArtifactError
from fastformers_tf.errors import UserError
from fastformers_tf.recipe import STAGES, save_recipe

STAGE_KIND = "stage"
STAGE_FILE = "stage.json"

# The stages each stage builds on, and the recipe keys (beyond the task and seed) that change its result.
UPSTREAM = {
    "teacher": (),
    "distill": ("teacher",),
    "prune": ("teacher", "distill"),
    "qat": ("teacher", "distill", "prune"),
    "export": ("teacher", "distill", "prune", "qat"),
    "benchmark": ("export",),
    "select": ("benchmark",),
}
_BENCH_KEYS = ("report_split", "selection_split", "backends", "instances", "threads", "bench_examples", "bench_rounds",
               "throughput_batch")  # fmt: skip
_SELECT_KEYS = ("max_accuracy_drop", "price_per_hour", "instance_cores", "instance_name")


class StageError(UserError, ValueError):
    """A stage that cannot run: an upstream stage is missing, incomplete or of another run."""


def recipe_part(recipe, stage):
    """The plain-data part of `recipe` that decides `stage`'s result."""
    section = OmegaConf.to_container(OmegaConf.structured(recipe))
    compress = section["compress"]
    # The hold-out changes what every stage trains on, evaluates on or picks on.
    part = {"task": recipe.task, "seed": recipe.seed, "holdout": section["holdout"]}
    if stage == "teacher":
        part.update(model=recipe.model, finetune=section["finetune"], teacher=compress["teacher"])
    elif stage == "distill":
        part.update(distill=section["distill"])
    elif stage == "prune":
        part.update(distill=section["distill"], prune=section["prune"], target=compress["prune_target_params"])
    elif stage == "qat":
        part.update(distill=section["distill"], qat={k: compress[k] for k in ("qat_epochs", "qat_learning_rate")})
    elif stage == "benchmark":
        part.update({key: compress[key] for key in _BENCH_KEYS})
    elif stage == "select":
        part.update({key: compress[key] for key in _SELECT_KEYS})
    return part


def stage_key(recipe, stage, upstream_keys, extra=None):
    """A short digest of `stage`'s recipe part, the keys of its upstream stages and `extra` (e.g. a given teacher)."""
    record = {"stage": stage, "recipe": recipe_part(recipe, stage), "upstream": upstream_keys, "extra": extra}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_stage(workdir, stage):
    """The `stage.json` record of a complete stage folder (checksums verified), or None when there is none."""
    folder = os.path.join(workdir, stage)
    if not os.path.isdir(folder):
        return None
    try:
        manifest = artifacts.Manifest(folder, STAGE_KIND)
        with open(manifest.path(STAGE_FILE), encoding="utf-8") as f:
            return json.load(f)
    except ArtifactError:
        return None


def require(workdir, stage, needed_by):
    """The record of an upstream `stage`; raises `StageError` when it is not complete."""
    record = read_stage(workdir, stage)
    if record is None:
        raise StageError(
            f"Stage {needed_by} needs stage {stage}, and {os.path.join(workdir, stage)} holds no complete run of it; "
            f"run it first (--stages={stage},{needed_by}) or run all stages."
        )
    return record


def run_stage(workdir, stage, key, recipe, body, log=print, position=None):
    """Runs `body(folder) -> record` into `<workdir>/<stage>/` unless a complete run with `key` is there.

    `position` is `(i, n)`: the stage is the i-th of the n this run asked for (logged).

    Returns the stage's record (what `body` returned plus `stage`, `key` and
    `wall_clock_s`); `skipped` is True when the previous run was kept.
    """
    target = os.path.join(workdir, stage)
    previous = read_stage(workdir, stage)
    if previous is not None and previous.get("key") == key:
        log(f"[{stage}] done before (key {key}): kept {target}")
        return {**previous, "skipped": True}
    if previous is not None:
        log(f"[{stage}] the recipe or an upstream stage changed since {target} was written: redoing it")
    number, total = position or (STAGES.index(stage) + 1, len(STAGES))
    log(f"[{stage}] stage {number}/{total} starts; writing {target} (in place once complete)")
    start = time.time()
    with artifacts.writing(target, STAGE_KIND) as folder:
        record = body(folder)
        record = {"stage": stage, "key": key, **record, "wall_clock_s": round(time.time() - start, 1)}
        artifacts.write_json(os.path.join(folder, STAGE_FILE), record)
        save_recipe(dataclasses.replace(recipe, output_dir=workdir), os.path.join(folder, "recipe.yaml"))
    log(f"[{stage}] done in {record['wall_clock_s']:.0f} s")
    return {**record, "skipped": False}
