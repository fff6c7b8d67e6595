"""`compress(recipe)`: the whole recipe as one job, a folder per stage under the work directory.

    teacher/    the fine-tuned teacher (`best/`), or a record of the one given (`compress.teacher`)
    distill/    the distillation run (`best/`, `metrics.json`)
    prune/      the pruning run (`pruned/`, `redistill/best/`, `metrics.json`)
    export/     `teacher/`, `distill/`, `prune/`: fused fp32, INT8 and FP16 ONNX, fp32 and INT8 TFLite
    benchmark/  `benchmark.json`: every candidate timed on the report split, side by side
    select/     `report.md`, `report.json`, `report.png` (Table 3, Figure 3) and `selected/`, the pick

Every stage folder holds `stage.json` (its key, wall-clock and outputs) and
`recipe.yaml`; see `compress.stages` for how a rerun skips or redoes stages.
"""

import contextlib
import dataclasses
import json
import logging
import os
import shutil

from fastformers_tf import artifacts
from fastformers_tf.compress import report as reports
from fastformers_tf.compress.stages import (
    MODEL_STAGES,
    OPTIONAL_STAGES,
    STAGES,
    STUDENT_NAME,
    TABLE,
    StageError,
    read_stage,
    require,
    run_stage,
    stage_key,
)
from fastformers_tf.data import get_task
from fastformers_tf.data.holdout import HOLDOUT
from fastformers_tf.errors import ArgumentError
from fastformers_tf.recipe import RecipeError, recipe_beside, validate

logger = logging.getLogger(__name__)

BENCHMARK_FILE = "benchmark.json"


def workdir_of(recipe):
    """`output_dir`, else `runs/<task>/compress`."""
    return recipe.output_dir or os.path.join("runs", recipe.task, "compress")


def check(recipe, stages=None):
    """The recipe and stage list, checked before anything loads; returns the stages in pipeline order."""
    cfg = validate(recipe).compress
    stages = list(stages or cfg.stages)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise RecipeError(f"--stages: unknown stage(s) {', '.join(unknown)}; the stages are {', '.join(STAGES)}.")
    task = get_task(recipe.task)
    for key in ("report_split", "selection_split"):
        split = getattr(cfg, key)
        if split and split not in task.files and split != HOLDOUT:
            raise RecipeError(f"compress.{key}={split}: task {task.name} has the splits {sorted(task.files)}.")
    workdir = workdir_of(recipe)
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ArgumentError(f"--workdir={workdir} is a file; the stage folders need a folder there.")
    if cfg.teacher and not os.path.isdir(cfg.teacher):
        raise ArgumentError(f"--teacher={cfg.teacher}: no such directory (a fine-tuned task model folder).")
    if cfg.teacher:
        limit = _saved_max_tokens(cfg.teacher)
        if limit is not None and recipe.finetune.max_length > limit:
            raise RecipeError(
                f"finetune.max_length={recipe.finetune.max_length} (the teacher's) exceeds the {limit} "
                f"tokens the position table of --teacher={cfg.teacher} covers."
            )
    for name, folder in cfg.students.items():
        _check_given_student(recipe, name, folder)
    _check_split_files(recipe, task, stages)
    return [s for s in STAGES if s in stages]


def _check_given_student(recipe, name, folder):
    """A student of `compress.students`: a name that can be a candidate's, a folder whose position table covers
    `distill.max_length`, and, where its recipe is beside it, the same hold-out."""
    if not STUDENT_NAME.fullmatch(name) or name in STAGES:
        raise RecipeError(
            f"compress.students.{name}: a student's name is lower-case letters, digits, - and _ and not a stage's "
            f"name ({', '.join(STAGES)})."
        )
    if not os.path.isdir(folder):
        raise ArgumentError(f"compress.students.{name}={folder}: no such directory (a distilled task model folder).")
    limit = _saved_max_tokens(folder)
    if limit is not None and recipe.distill.max_length > limit:
        raise RecipeError(
            f"distill.max_length={recipe.distill.max_length} (the students') exceeds the {limit} tokens the position "
            f"table of compress.students.{name}={folder} covers."
        )
    trained = recipe_beside(folder)  # tools/distill.py saves its recipe into the student's folder
    if trained is None:
        logger.warning(
            "compress.students.%s=%s has no recipe.yaml: which examples it trained on is not known, so its numbers "
            "on the hold-out may be optimistic.",
            name,
            folder,
        )
    elif trained.holdout_spec() != recipe.holdout_spec():
        raise RecipeError(
            f"compress.students.{name}={folder} was trained with another hold-out than this recipe's (its "
            "recipe.yaml): it may have trained on the examples the pick is made on."
        )


def _check_split_files(recipe, task, stages):
    """The train file (for training stages) and the report split's file exist and hold examples, before any stage."""
    from fastformers_tf.data.examples import DataError

    splits = [recipe.finetune.train_split] if set(stages) & {"teacher", "distill", "prune", "qat"} else []
    splits += [recipe.compress.report_split] if recipe.compress.report_split not in (None, "", HOLDOUT) else []
    for split in splits:
        path = os.path.join(recipe.resolved_data_dir(), task.files.get(split, ""))
        if split not in task.files or not os.path.isfile(path):
            raise DataError(f"No {split} file for task {task.name}: {path} (needed by the stages {', '.join(stages)}).")
        if not task.read(path, split):
            raise DataError(f"{path}: no examples in the {task.name} {split} file.")


def _saved_max_tokens(folder):
    """The tokens the position table of a saved model covers, read from its `fastformers_model.json` (None: unknown)."""

    def find(node):  # the encoder's config: the dict that has `max_sequence_length`
        if isinstance(node, dict):
            if "max_sequence_length" in node:
                return node
            node = list(node.values())
        if isinstance(node, list):
            return next((found for found in map(find, node) if found is not None), None)
        return None

    try:
        with open(os.path.join(folder, artifacts.MODEL_FILE), encoding="utf-8") as f:
            config = find(json.load(f))
    except (OSError, ValueError):
        return None  # the teacher stage names what is wrong with the folder
    if config is None:
        return None
    from fastformers_tf.models.config import EncoderConfig

    names = {field.name for field in dataclasses.fields(EncoderConfig)}
    return EncoderConfig(**{k: v for k, v in config.items() if k in names}).max_tokens


def _fingerprint(path):
    """The recorded digests of a given model's files, so that a changed model redoes what follows."""
    try:
        return artifacts.Manifest(path).files
    except artifacts.ArtifactError:
        return None


class Job:
    """One run of the pipeline: the recipe, the work directory and the records of the stages so far."""

    def __init__(self, recipe, verbose=1):
        self.recipe, self.verbose = recipe, verbose
        self.cfg = recipe.compress
        self.task = get_task(recipe.task)
        self.workdir = os.path.abspath(workdir_of(recipe))
        self.records = {}
        self.data = {}  # (model, split) -> TaskData, read by the benchmark

    def log(self, line):
        if self.verbose:
            print(line, flush=True)

    def sub_recipe(self, folder, **sections):
        return dataclasses.replace(self.recipe, output_dir=folder, **sections)

    def final_path(self, stage, *parts):
        """Where a file of `stage` lives once the stage is complete (stages write into a temporary folder)."""
        return os.path.join(self.workdir, stage, *parts)

    def upstream(self, stage):
        """The keys of the stages `stage` builds on, read from their folders when they did not run now.

        A stage read from its folder must be what this recipe would make
        (its key recomputed); else `StageError` names the recipe keys that
        changed and the stages to rerun.
        """
        keys = {}
        for name in TABLE[stage].upstream:
            if name not in self.records:
                record = read_stage(self.workdir, name)
                if record is None and name in OPTIONAL_STAGES:
                    continue
                record = record or require(self.workdir, name, stage)
                if record["key"] != stage_key(self.recipe, name, self.upstream(name), self.extra(name)):
                    raise StageError(
                        f"Stage {stage} builds on stage {name}, and {os.path.join(self.workdir, name)} was made "
                        f"with another recipe ({self.changed(name)}); rerun it (--stages={name},...,{stage}) "
                        "or all stages."
                    )
                self.records[name] = record
            keys[name] = self.records[name]["key"]
        return keys

    def extra(self, stage):
        """What beyond the recipe decides `stage`: the digests of a given teacher's or given students' files."""
        if stage == "teacher" and self.cfg.teacher:
            return _fingerprint(self.cfg.teacher)
        if stage == "export" and self.cfg.students:
            return {name: _fingerprint(folder) for name, folder in self.cfg.students.items()}
        return None

    def changed(self, stage):
        """The recipe keys of `stage` whose values differ from those its folder was made with, as one phrase."""
        from fastformers_tf.compress.stages import recipe_part
        from fastformers_tf.recipe import load_recipe

        path = os.path.join(self.workdir, stage, "recipe.yaml")
        if not os.path.isfile(path):
            return "no recipe.yaml beside it"
        before, now = recipe_part(load_recipe(config_file=path), stage), recipe_part(self.recipe, stage)
        keys = [key for key in now if before.get(key) != now[key]]
        return ", ".join(f"{key} changed" for key in keys) if keys else "a stage it builds on changed"

    def check_holdout(self, stage):
        """Refuses to build on a model stage trained with another hold-out (it may have trained on this one)."""
        from fastformers_tf.recipe import load_recipe

        earlier = [name for name in MODEL_STAGES if STAGES.index(name) < STAGES.index(stage)]
        for name in earlier:
            path = os.path.join(self.workdir, name, "recipe.yaml")
            if read_stage(self.workdir, name) is not None and os.path.isfile(path):
                if load_recipe(config_file=path).holdout != self.recipe.holdout:
                    raise StageError(
                        f"Stage {name} in {os.path.join(self.workdir, name)} was trained with another hold-out than "
                        f"this recipe's; rerun it (--stages={name},...) or all stages."
                    )

    def run(self, stages):
        for number, stage in enumerate(stages, 1):
            self.check_holdout(stage)
            key = stage_key(self.recipe, stage, self.upstream(stage), self.extra(stage))
            body = getattr(self, f"_{stage}")
            self.records[stage] = run_stage(
                self.workdir, stage, key, self.recipe, body, self.log, (number, len(stages))
            )
            shutil.rmtree(self.resume_dir(stage), ignore_errors=True)  # complete: nothing to resume
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.resume_dir("teacher")))  # when no stage left a checkpoint behind
        return self.records

    # === Stages ===

    def _teacher(self, folder):
        from fastformers_tf.distill.run import load_teacher
        from fastformers_tf.train.finetune import finetune

        if self.cfg.teacher:
            load_teacher(self.cfg.teacher, self.task)  # checks it is a task model of this task's labels
            return {"model_dir": os.path.abspath(self.cfg.teacher), "given": True}
        summary = finetune(self.sub_recipe(folder), verbose=self.verbose, resume_dir=self.resume_dir("teacher"))
        return {"model_dir": self.final_path("teacher", "best"), "given": False, "metrics": summary["best"]}

    def _distill(self, folder):
        from fastformers_tf.distill.run import distill

        section = dataclasses.replace(self.recipe.distill, teacher=self.records["teacher"]["model_dir"])
        summary = distill(
            self.sub_recipe(folder, distill=section), verbose=self.verbose, resume_dir=self.resume_dir("distill")
        )
        return {"model_dir": self.final_path("distill", "best"), "metrics": summary["best"]}

    def _prune(self, folder):
        from fastformers_tf.prune.run import check as check_prune
        from fastformers_tf.prune.run import prune_model

        section = dataclasses.replace(
            self.recipe.prune,
            model=self.records["distill"]["model_dir"],
            teacher=self.records["teacher"]["model_dir"],
            sweep=[],
        )
        if not (section.target_heads or section.target_ffn or section.target_params):
            section = dataclasses.replace(section, target_params=self.cfg.prune_target_params)
        sub = self.sub_recipe(folder, prune=section)
        check_prune(sub)
        result = prune_model(sub, verbose=self.verbose)
        redistilled = "after_redistill" in result
        model_dir = self.final_path("prune", "redistill", "best") if redistilled else self.final_path("prune", "pruned")
        final = result["after_redistill"] if redistilled else result["after_pruning"]
        return {
            "model_dir": model_dir,
            "metrics": final["metrics"],
            "layer_params": result["after_pruning"]["layer_params"],
        }

    def _qat(self, folder):
        from fastformers_tf.distill.run import distill

        last = "prune" if "prune" in self.records else "distill"
        section = dataclasses.replace(
            self.recipe.distill,
            teacher=self.records["teacher"]["model_dir"],
            student=self.records[last]["model_dir"],
            keep_layers=[],
            num_layers=0,
            hidden_dim=0,
            num_heads=0,
            intermediate_dim=0,
            activation="",
            quantize_aware=True,
            epochs=self.cfg.qat_epochs,
            learning_rate=self.cfg.qat_learning_rate,
        )
        summary = distill(
            self.sub_recipe(folder, distill=section), verbose=self.verbose, resume_dir=self.resume_dir("qat")
        )
        return {"model_dir": self.final_path("qat", "best"), "from": last, "metrics": summary["best"]}

    def resume_dir(self, stage):
        """Where a training stage keeps its checkpoint until it ends: outside its stage folder, which a rerun redoes."""
        return os.path.join(self.workdir, ".resume", stage)

    def holdout_record(self):
        """The hold-out's sizes (`holdout.Carve.record`) and how it was cut, or None without one."""
        spec = self.recipe.holdout_spec()
        if spec is None:
            return None
        from fastformers_tf.data.task_data import carved

        cut = carved(self.task, spec, self.recipe.resolved_data_dir())
        return {**cut.record(), "split": spec.split, "seed": spec.seed}

    def models(self):
        """`{name: model folder}` of the model stages that have run, in pipeline order, then the given students."""
        models = {name: self.records[name]["model_dir"] for name in MODEL_STAGES if name in self.records}
        return {**models, **{name: os.path.abspath(folder) for name, folder in self.cfg.students.items()}}

    def max_length(self, model):
        return self.recipe.finetune.max_length if model == "teacher" else self.recipe.distill.max_length

    def _export(self, folder):
        from fastformers_tf.distill.run import load_teacher
        from fastformers_tf.export.pipeline import ExportOptions, export_all
        from fastformers_tf.models.pretrained import load_tokenizer
        from fastformers_tf.models.saving import load_model

        # FP16 is for GPUs, written for them; TFLite when a TFLite candidate will be timed.
        options = ExportOptions(int8=True, fp16=True, tflite=any(b.startswith("tflite/") for b in self.cfg.backends))
        exports = {}
        for name, model_dir in self.models().items():
            self.log(f"[export] {name}: {model_dir}")
            if name in self.cfg.students:  # made elsewhere: checked to be a task model of this task's labels
                model = load_teacher(model_dir, self.task, f"compress.students.{name}")
            else:
                model = load_model(model_dir)
            # The QAT model's INT8 files carry its trained ranges; its fp32 ones are its float copy.
            model_options = dataclasses.replace(options, int8_mode="qat", fp16=False) if name == "qat" else options
            info = export_all(
                model,
                os.path.join(folder, name),
                load_tokenizer(model_dir),
                model_options,
                source=model_dir,
            )
            exports[name] = {
                "dir": self.final_path("export", name),
                "model_dir": model_dir,
                "files": info["files"],
                "op_counts": info["op_counts"],
            }
        return {"exports": exports}

    def split_data(self, model, split):
        """The `TaskData` of `split` tokenized for the exported `model` (read once per job), and its max length."""
        from fastformers_tf.models.pretrained import load_tokenizer
        from fastformers_tf.train.tasks import TaskData

        if (model, split) not in self.data:
            model_dir = self.records["export"]["exports"][model]["model_dir"]
            self.data[model, split] = TaskData.read(
                self.task,
                split,
                self.recipe.resolved_data_dir(),
                load_tokenizer(model_dir),
                self.max_length(model),
                self.recipe.resolved_cache_dir(),
                holdout=self.recipe.holdout_spec(),
            )
        return self.data[model, split], self.max_length(model)

    def open_candidate(self, c, instances=None, threads=None, spin_wait=True):
        """A predictor of candidate `c` (Keras from its model folder, else from the export stage's files)."""
        from fastformers_tf.runtime.load import load_predictor

        if c.stages:  # a cascade: one predictor per stage, each on the candidate's threads
            from fastformers_tf.compress.benchmark import Candidate
            from fastformers_tf.runtime.cascade import CascadePredictor

            instances, threads = instances or c.instances, threads or c.threads
            if instances > 1:  # workers, each with every stage (exported) on its threads
                from fastformers_tf.runtime.cascade import CascadeWorkers

                exports = self.records["export"]["exports"]
                return CascadeWorkers(
                    [(exports[m]["dir"], c.backend, c.precision) for m in c.stages],
                    c.thresholds,
                    self.cfg.cascade_confidence,
                    instances=instances,
                    threads=threads,
                    max_length=min(self.max_length(m) for m in c.stages),
                )
            stages = []
            try:
                for model in c.stages:
                    stage = Candidate(model, c.backend, c.precision, 1, threads)
                    stages.append(self.open_candidate(stage, spin_wait=False))  # the stages take turns
                return CascadePredictor(stages, c.thresholds, self.cfg.cascade_confidence)
            except BaseException:  # a stage that does not open closes those opened before it
                for opened in stages:
                    opened.close()
                raise
        export = self.records["export"]["exports"][c.model]
        max_length = self.max_length(c.model)
        if c.backend == "keras":  # TensorFlow keeps the thread count it started with (all cores)
            return load_predictor(export["model_dir"], "keras", max_length=max_length)
        return load_predictor(
            export["dir"],
            c.backend,
            c.precision,
            threads=threads or c.threads,
            instances=instances or c.instances,
            max_length=max_length,
            spin_wait=spin_wait,
        )

    def cascades(self, models, split, cores):
        """`(cascade candidates, their calibration)`: each student then the teacher, both stages in one of
        `compress.cascade_backends` (those among `compress.backends`, which the export stage writes files for).

        A cascade's threshold is the one that sends the fewest `split` texts to
        the teacher while its metric there stays within `max_accuracy_drop`
        points of the teacher's (Keras fp32, the budget's reference) and, with
        `cascade_rule` "stable", at every higher threshold too; a student for
        which none does gets no cascade. Each backend's threshold comes from
        its own stages' outputs.
        """
        from fastformers_tf.cascade.thresholds import pick, sweep
        from fastformers_tf.compress.benchmark import Candidate, cascades

        cfg = self.cfg
        students = [m for m in models if m != "teacher"]
        if not (cfg.cascades and "teacher" in models and students):
            return [], {}
        kinds = [b for b in cfg.cascade_backends if b in cfg.backends]
        for b in sorted(set(cfg.cascade_backends) - set(kinds)):
            self.log(f"[benchmark] no {b} cascades: {b} is not in compress.backends, so it has no files")

        def probs(model, backend, precision):  # batch 1: a row's outputs whichever rows reach a stage with it
            data, _ = self.split_data(model, split)
            with self.open_candidate(Candidate(model, backend, precision, 1, cores)) as predictor:
                return data.predict_probs(predictor, 1, progress=False), data

        reference_probs, data = probs("teacher", "keras", "fp32")

        def score(p):
            return 100 * float(next(iter(self.task.metric(data.examples, p).values())))

        reference = score(reference_probs)
        candidates, calibration = [], {}
        for kind in kinds:
            backend, precision = kind.split("/")
            teacher_probs, _ = probs("teacher", backend, precision)
            for student in students:
                # The cost of a setting is the share of texts reaching the teacher: the fewer, the faster.
                result = sweep(
                    [probs(student, backend, precision)[0], teacher_probs], score, [0.0, 1.0], cfg.cascade_confidence
                )
                k = pick(result, reference, cfg.max_accuracy_drop, cfg.cascade_rule)
                if k is None:
                    self.log(f"[benchmark] no {kind} cascade of {student} and the teacher is within budget on {split}")
                    continue
                thresholds = tuple(float(t) for t in result.thresholds[k])
                picked = result.record(k)
                for c in cascades(student, "teacher", thresholds, kind, cfg.instances, cores):
                    candidates.append(c)
                    calibration[c.name] = {
                        "split": split,
                        "confidence": cfg.cascade_confidence,
                        "rule": cfg.cascade_rule,
                        "thresholds": picked["thresholds"],
                        "metric": picked["metric"],
                        "teacher_metric": round(reference, 4),
                        "share_to_teacher": picked["shares"][1],
                    }
        return candidates, calibration

    def _benchmark(self, folder):
        from fastformers_tf.compress.benchmark import candidates, metrics_on, run_benchmark, time_again
        from fastformers_tf.cpu import cpu_name
        from fastformers_tf.runtime.multi_instance import physical_cores

        cfg = self.cfg
        exports = self.records["export"]["exports"]
        models = {name: export["model_dir"] for name, export in exports.items()}  # what the export stage exported
        cores = cfg.threads or len(physical_cores())
        report_split = cfg.report_split or self.recipe.distill.eval_split
        selection_split = cfg.selection_split or report_split

        # The QAT model is timed only at INT8: its fp32 files are its float copy, its Keras model fake-quantizes.
        cands = [
            c
            for c in candidates(list(models), cfg.backends, cfg.instances, cores)
            if c.model != "qat" or c.precision == "int8"
        ]
        cascades, calibration = self.cascades(list(models), selection_split, cores)
        cands += cascades
        self.log(f"[benchmark] {len(cands)} candidates on {self.task.name}/{report_split}, {cores} cores")
        records = run_benchmark(
            cands,
            self.open_candidate,
            lambda model: self.split_data(model, report_split),
            cfg.throughput_batch,
            cfg.bench_examples,
            cfg.bench_rounds,
            progress=self.verbose > 0,
        )
        if selection_split == report_split:
            selection = {c: record["metrics"] for c, record in zip(cands, records, strict=True)}
        else:
            selection = metrics_on(
                cands,
                lambda c: self.open_candidate(c, instances=1, threads=cores),
                lambda model: self.split_data(model, selection_split),
                cfg.throughput_batch,
            )
        for c, record in zip(cands, records, strict=True):
            record["selection_metrics"] = selection[c]
        chosen = reports.to_time_again(records, cfg.max_accuracy_drop) if cfg.retime_rounds else []
        if len(chosen) > 1:  # one turn each can rank two candidates by a slow spell of the machine: time again
            self.log(f"[benchmark] timing {len(chosen)} candidates again, {cfg.retime_rounds} rounds")
            again = time_again(
                [cands[i] for i in chosen],
                self.open_candidate,
                lambda model: self.split_data(model, report_split),
                cfg.bench_examples,
                cfg.retime_rounds,
                progress=self.verbose > 0,
            )
            for i, times in zip(chosen, again, strict=True):
                records[i]["again"] = times
        report_data, _ = self.split_data(next(iter(models)), report_split)
        result = {
            "task": self.task.name,
            "cpu": cpu_name(),
            "cores": cores,
            "date": _today(),
            "report_split": report_split,
            "selection_split": selection_split,
            "examples": len(report_data),
            "timed_examples": min(cfg.bench_examples or len(report_data), len(report_data)),
            "rounds": cfg.bench_rounds,
            "retime_rounds": cfg.retime_rounds,
            "throughput_batch": cfg.throughput_batch,
            "models": models,
            "baseline": "the teacher as fastformers_tf's Keras model (tf.function), fp32, every query padded to "
            f"{self.max_length(next(iter(models)))} tokens; transformers' own TF classes cannot load a "
            "fastformers_tf model folder",
            "records": records,
            "cascades": calibration,
            "holdout": self.holdout_record(),
        }
        artifacts.write_json(os.path.join(folder, BENCHMARK_FILE), result)
        return {"candidates": len(records), "file": self.final_path("benchmark", BENCHMARK_FILE)}

    def _select(self, folder):
        cfg = self.cfg
        with open(self.records["benchmark"]["file"], encoding="utf-8") as f:
            bench = json.load(f)
        records, models = bench["records"], list(bench["models"])
        baseline = records[0]  # the teacher padded to the max length: the same outputs as the teacher served as is
        picked, ref, floor = reports.pick(records, baseline, cfg.max_accuracy_drop)
        metric, _ = reports.main_metric(picked["selection_metrics"])
        line = reports.pick_line(bench, picked, ref, floor, cfg.max_accuracy_drop)
        final_model = "prune" if "prune" in models else reports.last_student(models) or models[0]
        final = [r for r in records if r["model"] == final_model and r["instances"] == 1 and r["padding"] == "dynamic"]
        keras_s = next((r["split_s"] for r in final if r["backend"] == "keras"), None)
        report = {
            "task": self.task.name,
            "metric": metric,
            "benchmark": bench,
            "final_model": final_model,
            "price_per_hour": cfg.price_per_hour,
            "instance_cores": cfg.instance_cores,
            "instance_name": cfg.instance_name,
            "table": reports.table_rows(records, models, bench["examples"], cfg.price_per_hour, cfg.instance_cores),
            "backends": [
                {
                    **{k: r[k] for k in ("backend", "precision", "ms_per_query", "throughput_per_s", "metrics")},
                    "vs_keras": round((keras_s or r["split_s"]) / r["split_s"], 2),
                }
                for r in final
            ],
            "selection": {
                "split": bench["selection_split"],
                "max_accuracy_drop": cfg.max_accuracy_drop,
                "teacher": ref,
                "floor": floor,
                "picked": picked,
                "line": line,
                "same_split_as_report": bench["selection_split"] == bench["report_split"],
            },
        }
        target = os.path.join(folder, "selected")
        if picked.get("stages"):
            from fastformers_tf.export.cascade import write_cascade

            stages = [
                (os.path.join(self.workdir, "export", m), picked["backend"], picked["precision"])
                for m in picked["stages"]
            ]
            calibration = bench.get("cascades", {}).get(picked["name"], {})
            write_cascade(
                target,
                stages,
                picked["thresholds"],
                calibration.get("confidence", cfg.cascade_confidence),
                calibration=calibration,
                selection={"picked": picked["name"], "line": line},
            )
        else:
            export_dir = os.path.join(self.workdir, "export", picked["model"])
            write_selected(picked, bench["models"][picked["model"]], export_dir, target, line)
        artifacts.write_json(os.path.join(folder, "report.json"), report)
        artifacts.write_text(os.path.join(folder, "report.md"), reports.markdown(report))
        artifacts.write_bytes(os.path.join(folder, "report.png"), reports.plot(report))
        self.log(line)
        return {
            "picked": picked["name"],
            "line": line,
            "selected": self.final_path("select", "selected"),
            "report": self.final_path("select", "report.md"),
        }


def _today():
    import datetime

    return datetime.date.today().isoformat()


def write_selected(record, model_dir, export_dir, target, line):
    """Writes `target`: the picked candidate's files alone, served as they are by `tools/predict.py --model=`.

    A Keras pick is a copy of its model folder; an ONNX/TFLite pick is its
    export folder with only the picked file, and `export.json` naming it as
    the default (`serve`: backend, precision, instances, threads) with `line`.
    """
    from fastformers_tf.artifacts import EXPORT_KIND, MANIFEST_FILE, MODEL_KIND
    from fastformers_tf.export.cascade import copy_served
    from fastformers_tf.runtime.load import Export

    serve = {k: record[k] for k in ("backend", "precision", "instances", "threads")}
    selection = {"picked": record["name"], "line": line, "serve": serve}
    if record["backend"] != "keras":
        with artifacts.writing(target, EXPORT_KIND) as folder:
            copy_served(
                Export(export_dir), record["backend"], record["precision"], folder, serve=serve, selection=selection
            )
        return
    source = artifacts.Manifest(model_dir, MODEL_KIND)
    with artifacts.writing(target, MODEL_KIND) as folder:
        for name in source.files:
            if name == MANIFEST_FILE:
                continue
            os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
            shutil.copyfile(source.path(name), os.path.join(folder, name))  # checksum verified first
        artifacts.write_json(os.path.join(folder, "selection.json"), selection)


def compress(recipe, stages=None, verbose=1):
    """Runs the recipe's stages (default `compress.stages`, all) into the work directory; returns their records.

    A stage already complete with the same recipe is kept; one killed halfway
    is redone from its start; a stage whose upstream is missing is an error.
    """
    stages = check(recipe, stages)
    job = Job(recipe, verbose)
    records = job.run(stages)
    if "select" in records:
        job.log(
            f"report: {records['select']['report']}\nserve the pick: python tools/predict.py "
            f"--model={records['select']['selected']} --text=..."
        )
    return records
