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
import re
import time

from omegaconf import OmegaConf

from fastformers_tf import artifacts
from fastformers_tf.artifacts import ArtifactError
from fastformers_tf.errors import UserError

STAGE_KIND = "stage"
STAGE_FILE = "stage.json"


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of the job: what it builds on, the recipe keys that decide its result, what it writes.

    Args:
        name: the stage's folder under the work directory and its name in `--stages`.
        upstream: the stages whose outputs it reads (their keys are part of its key).
        reads: recipe keys (a section, or `section.key`) that decide its result, beyond `COMMON`.
        does: one line for the README's stage table and `--help`.
        writes: what the stage writes, relative to the work directory.
        model: it writes a model folder that later stages build on.
        optional: later stages run without it when it never ran.
        opt_in: it runs only when named in `compress.stages` (or `--stages`).
    """

    name: str
    upstream: tuple
    reads: tuple
    does: str
    writes: str
    model: bool = False
    optional: bool = False
    opt_in: bool = False


# The recipe keys that decide every stage: the hold-out changes what each one trains, evaluates or picks on.
COMMON = ("task", "seed", "holdout")
# Where the job reads and writes, not what it computes: in no key.
ENVIRONMENT = ("data_dir", "output_dir", "cache_dir", "strategy")

TABLE = {
    stage.name: stage
    for stage in (
        Stage(
            "teacher",
            (),
            ("model", "finetune", "compress.teacher"),
            "fine-tunes `model` with the `finetune:` section, or checks the `--teacher` folder",
            "`teacher/best/`",
            model=True,
        ),
        Stage(
            "distill",
            ("teacher",),
            ("distill",),
            "distils the teacher into `distill.student` (`teacher`: the teacher's own folder, cut by `keep_layers`)",
            "`distill/best/`",
            model=True,
        ),
        Stage(
            "prune",
            ("teacher", "distill"),
            ("distill", "prune", "compress.prune_target_params"),
            "scores, prunes to `prune.target_params` (else `compress.prune_target_params`, 0.5) and re-distils",
            "`prune/redistill/best/`",
            model=True,
            optional=True,
        ),
        Stage(
            "qat",
            ("teacher", "distill", "prune"),
            ("distill", "compress.qat_epochs", "compress.qat_learning_rate"),
            "distils the last model again for `compress.qat_epochs` through 8-bit fake quantization; its INT8 "
            "files come from its trained ranges, and only they are timed",
            "`qat/best/`",
            model=True,
            optional=True,
            opt_in=True,
        ),
        Stage(
            "export",
            ("teacher", "distill", "prune", "qat"),
            ("compress.backends", "compress.students"),
            "fused fp32, dynamic INT8 and FP16 ONNX of every model (and of `compress.students`, made elsewhere); "
            "fp32/INT8 TFLite when a TFLite candidate is timed",
            "`export/<model>/`",
        ),
        Stage(
            "benchmark",
            ("export",),
            (
                "compress.report_split",
                "compress.selection_split",
                "compress.backends",
                "compress.instances",
                "compress.threads",
                "compress.bench_examples",
                "compress.bench_rounds",
                "compress.retime_rounds",
                "compress.throughput_batch",
                "compress.max_accuracy_drop",
                "compress.cascades",
                "compress.cascade_backends",
                "compress.cascade_confidence",
                "compress.cascade_rule",
            ),
            "times every candidate on the report split, side by side in one process; each student x the teacher "
            "as a cascade too, its threshold set on the selection split; then the baseline and the leaders within "
            "budget again, in alternating rounds",
            "`benchmark/benchmark.json`",
        ),
        Stage(
            "select",
            ("benchmark",),
            (
                "compress.max_accuracy_drop",
                "compress.price_per_hour",
                "compress.instance_cores",
                "compress.instance_name",
            ),
            "the report and the pick",
            "`select/report.{md,json,png}`, `select/selected/`",
        ),
    )
}
STAGES = tuple(TABLE)
OPT_IN_STAGES = tuple(name for name, stage in TABLE.items() if stage.opt_in)
MODEL_STAGES = tuple(name for name, stage in TABLE.items() if stage.model)
OPTIONAL_STAGES = tuple(name for name, stage in TABLE.items() if stage.optional)


def markdown_table():
    """The README's stage table, from `TABLE`."""
    lines = ["| stage | what it does | writes |", "|---|---|---|"]
    for stage in TABLE.values():
        name = f"`{stage.name}`" + (" (opt-in)" if stage.opt_in else "")
        lines.append(f"| {name} | {stage.does} | {stage.writes} |")
    return "\n".join(lines)


class StageError(UserError, ValueError):
    """A stage that cannot run: an upstream stage is missing, incomplete or of another run."""


# Keys added after work folders were first keyed, whose empty value changes nothing: left out of the key when
# empty, so that those folders stay valid.
KEYED_WHEN_SET = ("compress.students",)

# A name of `compress.students`: it becomes a candidate's name and a folder name.
STUDENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def recipe_part(recipe, stage):
    """The plain-data part of `recipe` that decides `stage`'s result: `COMMON` and the stage's `reads`."""
    container = OmegaConf.to_container(OmegaConf.structured(recipe))
    part = {}
    for key in (*COMMON, *TABLE[stage].reads):
        value = container
        for name in key.split("."):
            value = value[name]
        if value or key not in KEYED_WHEN_SET:
            part[key] = value
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
    from fastformers_tf.recipe import save_recipe  # the recipe module reads this one's stage table

    with artifacts.writing(target, STAGE_KIND) as folder:
        record = body(folder)
        record = {"stage": stage, "key": key, **record, "wall_clock_s": round(time.time() - start, 1)}
        artifacts.write_json(os.path.join(folder, STAGE_FILE), record)
        save_recipe(dataclasses.replace(recipe, output_dir=workdir), os.path.join(folder, "recipe.yaml"))
    log(f"[{stage}] done in {record['wall_clock_s']:.0f} s")
    return {**record, "skipped": False}
