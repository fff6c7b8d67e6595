"""`compress(recipe)` end to end on a tiny model and tiny RTE files: every stage, the report, the pick, reruns,
a stage killed halfway by a signal, and bad input."""

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from omegaconf import OmegaConf

from fastformers_tf.compress.report import STEPS
from fastformers_tf.compress.run import check, compress
from fastformers_tf.compress.stages import STAGE_FILE, StageError
from fastformers_tf.recipe import OPT_IN_STAGES, STAGES, RecipeError, load_recipe, save_recipe
from fastformers_tf.runtime.load import load_predictor
from tests import tiny
from tests.harness import PAIRS, ROOT, assert_one_line_error, run_tool, tiny_run_overrides, write_rte

DEFAULT_STAGES = [s for s in STAGES if s not in OPT_IN_STAGES]


def overrides(tmp_path, workdir):
    """A tiny run: the tiny encoder fine-tuned, cut to 2 layers, pruned; Keras and ONNX timed with 1 or 2 workers."""
    model = tmp_path / "encoder"
    return [
        *[o for o in tiny_run_overrides(tmp_path) if not o.startswith("output_dir")],
        f"output_dir={workdir}",
        "finetune.epochs=1",
        "finetune.batch_size=4",
        "finetune.max_length=24",
        "finetune.learning_rate=1e-3",
        f"distill.student={model}",
        "distill.keep_layers=[0,2]",
        "distill.epochs=3",
        "distill.batch_size=4",
        "distill.max_length=16",
        "distill.learning_rate=1e-3",
        "compress.prune_target_params=0.6",
        "prune.allocation=global",
        "prune.batch_size=4",
        "compress.backends=[keras/fp32,onnx/int8]",
        "compress.instances=[1,2]",
        "compress.threads=2",
    ]


@contextlib.contextmanager
def recording_reads():
    """Records, per stage, every recipe key the stage's body reads (`{stage: {"finetune.epochs", "model", ...}}`).

    A read counts when the code reading it is fastformers_tf's own, outside
    `fastformers_tf.recipe` (whose validation reads everything); whole-recipe
    copies (`dataclasses.replace`, OmegaConf) are not reads.
    """
    from fastformers_tf import recipe as recipes
    from fastformers_tf.compress.run import Job

    sections = {
        recipes.Recipe: "",
        recipes.HoldoutConfig: "holdout.",
        recipes.FinetuneConfig: "finetune.",
        recipes.DistillConfig: "distill.",
        recipes.PruneConfig: "prune.",
        recipes.CompressConfig: "compress.",
    }
    reads, current = {}, []

    def recorder(fields, prefix):
        def getattribute(self, name):
            value = object.__getattribute__(self, name)
            if current and name in fields and not dataclasses.is_dataclass(value):
                caller = sys._getframe(1).f_globals.get("__name__", "")
                if caller.startswith("fastformers_tf") and caller != "fastformers_tf.recipe":
                    reads.setdefault(current[-1], set()).add(prefix + name)
            return value

        return getattribute

    def in_stage(stage, body):
        def run(self, folder):
            current.append(stage)
            try:
                return body(self, folder)
            finally:
                current.pop()

        return run

    with pytest.MonkeyPatch.context() as patch:
        for cls, prefix in sections.items():
            patch.setattr(cls, "__getattribute__", recorder({f.name for f in dataclasses.fields(cls)}, prefix))
        for stage in STAGES:
            patch.setattr(Job, f"_{stage}", in_stage(stage, getattr(Job, f"_{stage}")))
        yield reads


def assert_reads_are_in_the_keys(reads):
    """Every key a stage read is in its key: its own `reads`, an upstream stage's (whose key it holds), or common."""
    from fastformers_tf.compress.stages import COMMON, ENVIRONMENT, TABLE

    def covered(stage):
        keys = {*TABLE[stage].reads}
        for name in TABLE[stage].upstream:
            keys |= covered(name)
        return keys

    for stage, keys in reads.items():
        allowed = covered(stage) | set(COMMON) | set(ENVIRONMENT)
        missing = sorted(k for k in keys if not any(k == a or k.startswith(a + ".") for a in allowed))
        assert not missing, f"stage {stage} reads {missing}, which its key misses"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """One uninterrupted run of every stage (shared by the tests of this module), the recipe keys read recorded."""
    tmp_path = tmp_path_factory.mktemp("compress")
    write_rte(tmp_path / "data")
    recipe = load_recipe("rte", params_override=overrides(tmp_path, tmp_path / "work"))
    with recording_reads() as reads:
        records = compress(recipe, verbose=0)
    return tmp_path, recipe, records, reads


def report_of(workdir):
    with open(os.path.join(workdir, "select", "report.json"), encoding="utf-8") as f:
        return json.load(f)


def test_every_stage_writes_its_folder_the_report_and_a_servable_pick(job):
    tmp_path, recipe, records, _ = job
    work = tmp_path / "work"
    assert sorted(os.listdir(work)) == sorted(DEFAULT_STAGES)
    for stage in DEFAULT_STAGES:
        assert {"manifest.json", STAGE_FILE, "recipe.yaml"} <= set(os.listdir(work / stage)), stage
        assert not records[stage]["skipped"]
    assert records["distill"]["model_dir"] == str(work / "distill" / "best")
    assert sorted(os.listdir(work / "export")) == [
        "distill",
        "manifest.json",
        "prune",
        "recipe.yaml",
        STAGE_FILE,
        "teacher",
    ]

    report = report_of(work)
    bench = report["benchmark"]
    # 1 baseline + 3 models x (Keras, ONNX INT8 x 1 and 2 workers), all on the 8 val pairs, and each student's
    # cascade with the teacher where one stays within budget on the selection split.
    cascades = [r["name"] for r in bench["records"] if r.get("stages")]
    assert sorted(cascades) == sorted(bench["cascades"])
    # One cascade per worker count (1 and 2), each worker with both stages.
    assert set(cascades) <= {f"{m}>teacher onnx/int8 {n} cascade" for m in ("distill", "prune") for n in ("1x2", "2x1")}
    assert len(bench["records"]) == 1 + 3 * 3 + len(cascades) and bench["examples"] == len(PAIRS) * 2
    steps = [label for label, _ in STEPS if "quantization-aware" not in label]  # the qat stage is opt-in
    if not any(name.startswith("prune>") for name in cascades):
        steps = [label for label in steps if "cascade" not in label]
    assert [row["step"] for row in report["table"]] == steps
    first = report["table"][0]
    assert first["cumulative_speedup"] == 1.0 and first["candidate"].endswith("padded to max length")
    records = {r["name"]: r for r in bench["records"]}
    previous = first
    for row in report["table"]:
        # Each row is its benchmark record, its speed-ups and cost recomputed here from the record's numbers.
        record = records[row["candidate"]]
        assert row["split_s"] == record["split_s"] and row["metrics"] == record["metrics"]
        assert row["cumulative_speedup"] == round(first["split_s"] / row["split_s"], 2)
        assert row["step_speedup"] == round(previous["split_s"] / row["split_s"], 2)
        cores = record["instances"] * record["threads"]
        dollars = report["price_per_hour"] / 3600 * record["split_s"] / bench["examples"] * cores
        assert row["dollars_per_100m"] == round(dollars / report["instance_cores"] * 1e8, 2)
        previous = row
    # Padding changes the speed, never the outputs: the baseline and the dynamic teacher agree.
    assert report["table"][0]["metrics"] == report["table"][1]["metrics"]
    assert report["selection"]["same_split_as_report"]

    markdown = (work / "select" / "report.md").read_text()
    assert "the paper's Table 3" in markdown and "same split (val)" in markdown and "**(picked)**" in markdown
    assert "## Timed again" in markdown and "| (the pick) |" in markdown
    assert (work / "select" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    picked = report["selection"]["picked"]
    assert picked["padding"] == "dynamic" and picked["name"] in report["selection"]["line"]
    assert picked["selection_metrics"]["accuracy"] >= report["selection"]["floor"] - 1e-9
    # The baseline and the two fastest within budget were timed again, 5 alternating rounds each (the default);
    # the pick is the fastest of those by that time, and its line quotes those times.
    within = [r for r in bench["records"][1:] if r["metrics"]["accuracy"] >= report["selection"]["floor"] - 1e-9]
    leaders = sorted(within, key=lambda r: r["split_s"])[:2]
    again = [r for r in bench["records"] if "again" in r]
    assert again[0] == bench["records"][0] and all(r in again for r in leaders) and bench["retime_rounds"] == 5
    assert all(len(r["again"]["turns_batch1_s"]) == 5 for r in again)
    assert picked["again"]["ms_per_query"] == min(r["again"]["ms_per_query"] for r in again[1:])
    speedup = bench["records"][0]["again"]["ms_per_query"] / picked["again"]["ms_per_query"]
    assert f"{speedup:.1f}x faster than the baseline" in report["selection"]["line"]
    with load_predictor(str(work / "select" / "selected")) as predictor:
        labels = predictor.predict(["The cat sat on the mat."], ["A cat sat."])
    assert labels[0][0] in ("entailment", "not_entailment")
    assert predictor.__class__.__name__.lower().startswith(picked["backend"])


def test_cascades_are_calibrated_on_the_selection_split_and_timed_like_the_other_candidates(job):
    tmp_path, _, _, _ = job
    work = tmp_path / "cascades"
    shutil.copytree(tmp_path / "work", work)
    # A 100-point budget: the cheapest threshold sends no text to the teacher, so the cascade is its student.
    recipe = load_recipe("rte", params_override=[*overrides(tmp_path, work), "compress.max_accuracy_drop=100"])
    records = compress(recipe, stages=["benchmark", "select"], verbose=0)
    assert "skipped" not in records["export"] and not records["benchmark"]["skipped"]  # export: read from disk
    report = report_of(work)
    bench = report["benchmark"]
    by_name = {r["name"]: r for r in bench["records"]}
    for student in ("distill", "prune"):
        for workers in ("1x2", "2x1"):  # one process with both stages on 2 threads; 2 workers with both on 1
            name = f"{student}>teacher onnx/int8 {workers} cascade"
            record, calibration = by_name[name], bench["cascades"][name]
            assert record["stages"] == [student, "teacher"] and record["thresholds"] == calibration["thresholds"]
            assert calibration["share_to_teacher"] == 0.0 and record["stage_shares"] == [1.0, 0.0]
            single = by_name[f"{student} onnx/int8 1x2"]
            assert record["metrics"] == single["metrics"]
            assert record["selection_metrics"] == single["selection_metrics"]
            assert record["ms_per_query"] > 0 and len(record["turns_batch1_s"]) == 1
    # The "+ cascade" row is the faster of the last student's two cascades.
    prune_cascades = [by_name[f"prune>teacher onnx/int8 {w} cascade"] for w in ("1x2", "2x1")]
    assert report["table"][-1]["step"].startswith("+ cascade")
    assert report["table"][-1]["candidate"] == min(prune_cascades, key=lambda r: r["split_s"])["name"]
    markdown = (work / "select" / "report.md").read_text()
    assert "## Cascades" in markdown and "0.0% of the texts reach the teacher" in markdown

    # A budget of 0 points: the threshold keeps the cascade at the teacher's accuracy on the selection split,
    # which its outputs there confirm (both from batch-1 outputs: dynamic INT8 gives a row other outputs in other
    # batches); a picked cascade is written as a cascade folder that serves.
    exact = load_recipe("rte", params_override=[*overrides(tmp_path, work), "compress.max_accuracy_drop=0"])
    compress(exact, stages=["benchmark", "select"], verbose=0)
    bench = report_of(work)["benchmark"]
    for name, calibration in bench["cascades"].items():
        record = {r["name"]: r for r in bench["records"]}[name]
        assert calibration["metric"] >= calibration["teacher_metric"] - 1e-9
        assert 100 * record["selection_metrics"]["accuracy"] == pytest.approx(calibration["metric"], abs=1e-3)
    from fastformers_tf.compress.run import Job

    job_ = Job(exact, 0)
    job_.records["export"] = records["export"]
    picked = next(r for r in bench["records"] if r.get("stages"))
    monkey = pytest.MonkeyPatch()
    try:
        monkey.setattr("fastformers_tf.compress.report.pick", lambda records, ref, drop: (picked, 0.5, 0.0))
        job_.records["benchmark"] = {"file": str(work / "benchmark" / "benchmark.json")}
        folder = tmp_path / "picked-cascade"
        folder.mkdir()
        job_._select(str(folder))
    finally:
        monkey.undo()
    with load_predictor(str(folder / "selected")) as predictor:
        assert predictor.__class__.__name__ == "CascadePredictor" and predictor.thresholds == picked["thresholds"]
        assert predictor.predict(["The cat sat on the mat."], ["A cat sat."])[0][0] in ("entailment", "not_entailment")


def test_a_cascade_per_backend_of_compress_cascade_backends_that_the_export_wrote_files_for(job, capsys):
    from fastformers_tf.compress.run import Job

    tmp_path, _, records, _ = job
    recipe = load_recipe(
        "rte",
        params_override=[
            *overrides(tmp_path, tmp_path / "work"),
            "compress.backends=[keras/fp32,onnx/fp32,onnx/int8]",
            "compress.cascade_backends=[onnx/fp32,tflite/int8,onnx/int8]",
            "compress.max_accuracy_drop=0",
        ],
    )
    job_ = Job(recipe, verbose=1)
    job_.records["export"] = records["export"]
    cands, calibration = job_.cascades(["teacher", "distill", "prune"], "val", 2)
    # TFLite INT8 is not timed, so the export stage wrote no TFLite file: no cascade in it, and a line says why.
    assert "no tflite/int8 cascades: tflite/int8 is not in compress.backends" in capsys.readouterr().out
    assert {(c.backend, c.precision) for c in cands} <= {("onnx", "fp32"), ("onnx", "int8")}
    assert set(calibration) == {c.name for c in cands}
    # At fp32 the ONNX stages give the Keras teacher's outputs, so a budget of 0 points always has a cascade:
    # one per student and worker count, its threshold set on its own backend's outputs.
    assert {c.name for c in cands if c.precision == "fp32"} == {
        f"{m}>teacher onnx/fp32 {w} cascade" for m in ("distill", "prune") for w in ("1x2", "2x1")
    }
    for c in cands:
        assert (
            c.stages == (c.model.split(">")[0], "teacher")
            and calibration[c.name]["metric"] >= calibration[c.name]["teacher_metric"] - 1e-9
        )


def test_every_recipe_key_a_stage_reads_is_in_its_key(job):
    _, recipe, _, reads = job
    assert set(reads) == set(DEFAULT_STAGES)
    assert "compress.backends" in reads["export"]  # the key missed it: a TFLite backend added later found no file
    assert_reads_are_in_the_keys(reads)


def test_the_export_key_holds_the_backends_it_writes_files_for(job):
    from fastformers_tf.compress.stages import stage_key

    _, recipe, _, _ = job
    with_tflite = dataclasses.replace(
        recipe, compress=dataclasses.replace(recipe.compress, backends=[*recipe.compress.backends, "tflite/fp32"])
    )
    upstream = {"teacher": "t", "distill": "d", "prune": "p"}
    assert stage_key(recipe, "export", upstream) != stage_key(with_tflite, "export", upstream)
    assert stage_key(recipe, "select", {"benchmark": "b"}) == stage_key(with_tflite, "select", {"benchmark": "b"})


def test_a_stage_read_from_its_folder_must_match_the_recipe(job):
    tmp_path, _, _, _ = job
    changed = load_recipe(
        "rte", params_override=[*overrides(tmp_path, tmp_path / "work"), "compress.selection_split=train"]
    )
    with pytest.raises(
        StageError,
        match=r"Stage select builds on stage benchmark, .* \(compress\.selection_split "
        r"changed\); rerun it \(--stages=benchmark,\.\.\.,select\)",
    ):
        compress(changed, stages=["select"], verbose=0)  # the benchmark measured the old selection split
    assert report_of(tmp_path / "work")["selection"]["split"] == "val"  # the old pick was left alone


def test_a_rerun_keeps_finished_stages_and_redoes_what_a_changed_recipe_touches(job):
    tmp_path, recipe, _, _ = job
    again = compress(recipe, verbose=0)
    assert all(again[stage]["skipped"] for stage in DEFAULT_STAGES)
    more = ["compress.bench_rounds=2", "compress.max_accuracy_drop=50", "compress.selection_split=train"]
    changed = load_recipe("rte", params_override=[*overrides(tmp_path, tmp_path / "work"), *more])
    records = compress(changed, stages=["benchmark", "select"], verbose=0)  # the upstream stages read from disk
    assert not records["benchmark"]["skipped"] and not records["select"]["skipped"]
    assert "skipped" not in records["distill"] and records["export"]["key"] == again["export"]["key"]  # read
    # With a 50-point budget every candidate (but the baseline) is within budget: the fastest of all in the first
    # pass is timed again, and the pick is the fastest of those timed again, made on train.
    report = report_of(tmp_path / "work")
    assert report["selection"]["split"] == "train" and not report["selection"]["same_split_as_report"]
    assert all(set(r["selection_metrics"]) == {"accuracy"} for r in report["benchmark"]["records"])
    assert "accuracy (train)" in (tmp_path / "work" / "select" / "report.md").read_text()
    fastest = min(report["benchmark"]["records"][1:], key=lambda r: r["split_s"])
    leaders = [r for r in report["benchmark"]["records"][1:] if "again" in r]
    assert fastest in leaders and len(leaders) in (2, 3)  # the two fastest, and the fastest single model
    assert report["selection"]["picked"] == min(leaders, key=lambda r: r["again"]["ms_per_query"])


def test_a_student_made_elsewhere_is_exported_timed_and_cascaded_beside_the_jobs_own(job):
    tmp_path, _, first, _ = job
    work = tmp_path / "given-student"
    shutil.copytree(tmp_path / "work", work)
    given = tmp_path / "elsewhere"
    shutil.copytree(work / "distill" / "best", given)  # the job's distilled student, as if distilled by hand
    more = ["compress.max_accuracy_drop=100", f"compress.students.byhand={given}"]
    recipe = load_recipe("rte", params_override=[*overrides(tmp_path, work), *more])
    with recording_reads() as reads:
        records = compress(recipe, stages=["export", "benchmark", "select"], verbose=0)
    assert_reads_are_in_the_keys(reads)
    assert not records["export"]["skipped"] and records["export"]["key"] != first["export"]["key"]
    assert set(records["export"]["exports"]) == {"teacher", "distill", "prune", "byhand"}
    report = report_of(work)
    by_name = {r["name"]: r for r in report["benchmark"]["records"]}
    # The same model as the job's distilled one: the same outputs, and a cascade with the teacher of its own.
    for backend in ("keras/fp32 1x2", "onnx/int8 1x2", "onnx/int8 2x1"):
        assert by_name[f"byhand {backend}"]["metrics"] == by_name[f"distill {backend}"]["metrics"]
    assert by_name["byhand>teacher onnx/int8 2x1 cascade"]["stages"] == ["byhand", "teacher"]
    # Table 3's steps are the job's own: its "+ cascade" row stays the pruned student's.
    assert report["table"][-1]["candidate"].startswith("prune>teacher") and report["final_model"] == "prune"
    again = compress(recipe, stages=["export", "benchmark", "select"], verbose=0)
    assert all(again[stage]["skipped"] for stage in ("export", "benchmark", "select"))
    # A student trained with another hold-out may have trained on this one: refused before any stage.
    other = tmp_path / "other-holdout"
    shutil.copytree(given, other)
    save_recipe(load_recipe("rte", params_override=["holdout.seed=7"]), str(other / "recipe.yaml"))
    with pytest.raises(RecipeError, match=r"compress\.students\.byhand=.*another hold-out"):
        check(load_recipe("rte", params_override=[*overrides(tmp_path, work), f"compress.students.byhand={other}"]))
    # The key holds the digests of the student's files: other weights in the same folder redo the export.
    from fastformers_tf.compress.run import Job

    digests = Job(recipe, 0).extra("export")["byhand"]
    assert len(digests["model.weights.h5"]["sha256"]) == 64


def test_the_opt_in_qat_stage_distills_the_pruned_model_quantization_aware_and_times_its_int8(job):
    from fastformers_tf.models import load_model
    from fastformers_tf.quantize import is_quantized

    tmp_path, _, _, _ = job
    work = tmp_path / "with-qat"
    shutil.copytree(tmp_path / "work", work)  # the same recipe: teacher, distill and prune are kept
    recipe = load_recipe("rte", params_override=[*overrides(tmp_path, work), "compress.qat_epochs=2"])
    with recording_reads() as reads:
        records = compress(recipe, stages=["prune", "qat", "export", "benchmark", "select"], verbose=0)
    assert set(reads) == {"qat", "export", "benchmark", "select"}
    assert_reads_are_in_the_keys(reads)
    assert records["prune"]["skipped"] and not records["qat"]["skipped"] and not records["export"]["skipped"]
    assert records["qat"]["from"] == "prune" and is_quantized(load_model(records["qat"]["model_dir"]))
    with open(work / "qat" / "metrics.json", encoding="utf-8") as f:
        assert json.load(f)["student"]["quantize_aware"]["calibration_batches"] > 0
    with open(work / "export" / "qat" / "export.json", encoding="utf-8") as f:
        info = json.load(f)
    assert info["options"]["int8_mode"] == "qat" and "MatMul" in info["op_counts"]["onnx/int8"]
    report = report_of(work)
    qat_names = [r["name"] for r in report["benchmark"]["records"] if r["model"] == "qat"]
    assert len(qat_names) == 2 and all("onnx/int8" in name for name in qat_names)  # INT8 only, 1 and 2 workers
    steps = [row["step"] for row in report["table"]]
    assert "+ quantization-aware training (static INT8)" in steps  # a "+ cascade" row may follow it


def test_a_stage_killed_halfway_is_redone_and_the_report_is_the_same(job):
    tmp_path, _, _, _ = job
    work = tmp_path / "resumed"
    work.mkdir()
    shutil.copytree(tmp_path / "work" / "teacher", work / "teacher")  # the same recipe: kept by the rerun
    teacher_stage = (work / "teacher" / STAGE_FILE).read_text()
    recipe_file = tmp_path / "resumed.yaml"  # list values hold commas, which --params_override splits on
    OmegaConf.save(OmegaConf.from_dotlist(overrides(tmp_path, work)), recipe_file)
    args = ["--task=rte", f"--config_file={recipe_file}"]
    command = [sys.executable, os.path.join(ROOT, "tools", "compress.py"), *args]
    env = {**os.environ, "PYTHONPATH": ROOT}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    # Halfway: distillation has saved its first best student into its temporary folder.
    while not any((p / "best" / "manifest.json").exists() for p in work.glob(".distill.partial-*")):
        assert process.poll() is None and time.time() < deadline, process.stdout.read()[-3000:]
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (work / "distill").exists() and list(work.glob(".distill.partial-*"))

    result = run_tool("compress.py", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[teacher] done before" in result.stdout and "[distill] stage 2/6 starts" in result.stdout
    assert (work / "teacher" / STAGE_FILE).read_text() == teacher_stage
    assert not list(work.glob(".distill.partial-*"))
    resumed, uninterrupted = report_of(work), report_of(tmp_path / "work")
    # The same candidates and rows. Accuracies may differ by a borderline example: Keras' dropout seeds count the ops
    # a process created before, and the uninterrupted run fine-tuned the teacher in the same process first.
    assert [(r["name"], set(r["metrics"])) for r in resumed["benchmark"]["records"]] == [
        (r["name"], set(r["metrics"])) for r in uninterrupted["benchmark"]["records"]
    ]
    assert [row["step"] for row in resumed["table"]] == [row["step"] for row in uninterrupted["table"]]


def test_with_a_holdout_every_stage_is_redone_and_the_pick_is_made_on_it(job):
    tmp_path, _, first, _ = job
    work = tmp_path / "work-holdout"
    shutil.copytree(tmp_path / "work", work)  # a finished run without a hold-out, to be redone
    holdout = [
        "holdout.examples=4",
        "finetune.eval_split=holdout",
        "distill.eval_split=holdout",
        "compress.selection_split=holdout",
    ]
    recipe = load_recipe("rte", params_override=[*overrides(tmp_path, work), *holdout])
    with pytest.raises(StageError, match="trained with another hold-out"):
        compress(recipe, stages=["benchmark", "select"], verbose=0)  # the exported models saw the hold-out
    records = compress(recipe, verbose=0)
    assert not any(records[stage]["skipped"] for stage in DEFAULT_STAGES)
    assert all(records[s]["key"] != first[s]["key"] for s in DEFAULT_STAGES)
    report = report_of(work)
    bench = report["benchmark"]
    assert bench["report_split"] == "val" and bench["selection_split"] == "holdout"
    # train: 24 rows, 6 copies of each of 4 pairs: the copies of a held-out pair left in train are dropped
    cut = bench["holdout"]
    assert cut["holdout"] == 4 and cut["train"] + cut["holdout"] + cut["dropped"] == 24 and cut["dropped"] >= 5
    assert not report["selection"]["same_split_as_report"]
    text = (work / "select" / "report.md").read_text()
    assert "Hold-out: 4 examples carved from train" in text and "`val` was read once, by this benchmark" in text


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--params_override=compress.colour=red"], r"compress\.colour"),
        (["--params_override=distill.keep_layers=[0,1],compress.colour=red"], r"compress\.colour"),  # list parsed
        (["--params_override=distill.keep_layers=[0,1"], r"unbalanced brackets in 'distill\.keep_layers=\[0,1'"),
        (["--params_override=compress.stages=[teach]"], r"compress\.stages=\['teach'\].*teacher, distill"),
        (["--stages=distill,polish"], r"--stages: unknown stage\(s\) polish"),
        (["--teacher=/no/such/teacher"], r"--teacher=/no/such/teacher: no such directory"),
        (["--preset=slow"], r"--preset=slow: no .*presets/slow\.yaml; presets: quick"),
        (["--selection_split=dev"], r"compress\.selection_split=dev: task rte has the splits"),
        (["--student=byhand"], r"--student=byhand: expected NAME=FOLDER"),
        (["--student=a.b=/tmp"], r"--student=a\.b=/tmp: expected NAME=FOLDER"),
        (["--student=teacher=/tmp"], r"compress\.students\.teacher: a student's name is .* not a stage's name"),
        (["--student=byhand=/no/such"], r"compress\.students\.byhand=/no/such: no such directory"),
    ],
)
def test_bad_input_is_one_line_naming_the_key_or_path(args, pattern):
    code = 2 if "unbalanced" in pattern else 1  # a flag absl cannot parse is a usage error
    assert_one_line_error(run_tool("compress.py", "--task=rte", *args), pattern, code)


def test_a_workdir_that_is_a_file_is_named(tmp_path):
    (tmp_path / "work").write_text("notes")
    result = run_tool("compress.py", "--task=rte", f"--workdir={tmp_path / 'work'}")
    assert_one_line_error(result, r"--workdir=.*work is a file; the stage folders need a folder there")
    assert (tmp_path / "work").read_text() == "notes"


def test_a_stage_whose_upstream_never_ran_names_it(tmp_path):
    write_rte(tmp_path / "data")
    result = run_tool(
        "compress.py",
        "--task=rte",
        "--stages=prune",
        f"--workdir={tmp_path / 'work'}",
        f"--data_dir={tmp_path / 'data'}",
    )
    assert_one_line_error(result, r"Stage prune needs stage teacher.*--stages=teacher,prune")


def test_what_can_be_checked_is_checked_before_the_first_stage(tmp_path):
    """A teacher too short for finetune.max_length, and an empty train file: refused before any stage folder."""
    from fastformers_tf.models import save_model
    from tests.distill.test_run import RTE_LABELS

    write_rte(tmp_path / "data")
    save_model(tiny.classifier(2, RTE_LABELS), str(tmp_path / "teacher"), tokenizer=tiny.tokenizer(str(tmp_path)))
    common = ["--task=rte", f"--workdir={tmp_path / 'work'}", f"--data_dir={tmp_path / 'data'}"]
    result = run_tool(
        "compress.py", *common, f"--teacher={tmp_path / 'teacher'}", "--params_override=finetune.max_length=100"
    )
    assert_one_line_error(result, r"finetune\.max_length=100 \(the teacher.s\) exceeds the 64 tokens the position")
    (tmp_path / "data" / "superglue" / "RTE" / "train.jsonl").write_text("\n")
    result = run_tool(
        "compress.py",
        *common,
        f"--teacher={tmp_path / 'teacher'}",
        "--params_override=finetune.max_length=32,distill.max_length=32",
    )
    assert_one_line_error(result, r"train\.jsonl: no examples in the rte train file")
    assert not (tmp_path / "work").exists()
