"""Bad input to the tools: one line naming the flag, file or row, no traceback, no log noise.

Exit 2 for a command line refused as such (absl's bounds and enums, the tools' usage checks), 1 for files,
models and values that cannot be used.
"""

import json
import os
import re
import shutil

import pytest

from fastformers_tf.models import save_model
from tests import tiny
from tests.harness import assert_one_line_error, run_tool, write_rte


@pytest.fixture(scope="module")
def export_copy(tiny_export, tmp_path_factory):
    """A fresh copy of the session's tiny export per module, for tests that damage it."""

    def copy(name):
        target = tmp_path_factory.mktemp(name) / "export"
        shutil.copytree(tiny_export.directory, target)
        return target

    return copy


@pytest.mark.parametrize(
    "args, pattern, code",
    [
        # A command line absl refuses (bounds, enums) is a usage error, exit 2, like the tools' own.
        (["--instances=0"], r"^error: flag --instances=0: 0 is not a positive integer", 2),
        (["--threads=-1"], r"flag --threads=-1", 2),
        (["--backend=cuda"], r"flag --backend=cuda: value should be one of", 2),
        (["--threads=1000"], r"threads=1000 exceeds the \d+ CPUs this process may use", 1),
        (["--max_length=0"], r"flag --max_length=0", 2),
        (["--batch_size=0"], r"flag --batch_size=0", 2),
        (["--max_length=1000"], r"max_length=1000 exceeds the 64 tokens", 1),
        (["--labels=a"], r"--labels needs at least two labels", 2),
        (["--labels=a,b,a"], r"--labels repeats \['a'\]", 2),
        (["--labels=a,,b"], r"--labels has an empty label", 2),
        (["--text= "], r"--text number 1 is empty", 2),
        (["--input_file=missing.txt"], r"missing\.txt: No such file or directory", 1),
        (["--input_file=latin1.txt"], r"latin1\.txt:2: not valid UTF-8", 1),
        (["--input_file=empty.txt"], r"empty\.txt has none", 2),
    ],
)
def test_predict_refuses_bad_flags_and_input_files(tiny_export, tmp_path, args, pattern, code):
    (tmp_path / "latin1.txt").write_bytes("fine\ncaf\xe9\n".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("\n\n")
    texts = [] if any(a.startswith(("--text", "--input_file")) for a in args) else ["--text=hello"]
    result = run_tool("predict.py", f"--model={tiny_export.directory}", *texts, *args, cwd=tmp_path)
    assert_one_line_error(result, pattern, code)


def test_damaged_or_stale_exports_are_never_served(export_copy):
    truncated = export_copy("truncated")
    with open(truncated / "model.int8.tflite", "r+b") as f:
        f.truncate(1000)
    result = run_tool("predict.py", f"--model={truncated}", "--backend=tflite", "--precision=int8", "--text=a")
    assert_one_line_error(result, r"model\.int8\.tflite changed after it was written \(1000 bytes")
    # The same file named directly is checked against its folder's manifest too.
    result = run_tool("predict.py", f"--model={truncated / 'model.int8.tflite'}", "--text=a")
    assert_one_line_error(result, r"model\.int8\.tflite changed after it was written")

    stale = export_copy("stale")  # an export.json that no longer lists the int8 model (as after a re-export)
    info = json.loads((stale / "export.json").read_text())
    del info["files"]["onnx/int8"]
    (stale / "export.json").write_text(json.dumps(info))
    result = run_tool("predict.py", f"--model={stale}", "--precision=int8", "--text=a")
    assert_one_line_error(result, r"export\.json changed after it was written")

    interrupted = export_copy("interrupted")
    os.remove(interrupted / "manifest.json")
    result = run_tool("predict.py", f"--model={interrupted}", "--text=a")
    assert_one_line_error(result, r"has no manifest\.json: it was not completely written")


@pytest.mark.parametrize("damaged", ["model.weights.h5", "fastformers_model.json"])
def test_truncated_saved_model_names_the_file(tmp_path, damaged):
    save_model(tiny.classifier(), str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    with open(tmp_path / "model" / damaged, "r+b") as f:
        f.truncate(100)
    result = run_tool("predict.py", f"--model={tmp_path / 'model'}", "--text=a")
    assert_one_line_error(result, rf"model/{re.escape(damaged)} changed after it was written \(100 bytes")


def test_model_names_go_to_the_hub_only_when_they_can(tmp_path):
    (tmp_path / "runs").mkdir()
    result = run_tool("predict.py", "--model=runs/best", "--text=a", cwd=tmp_path)
    assert_one_line_error(result, r"^error: runs/best: no such model folder \(packaged names: all-MiniLM")
    result = run_tool("predict.py", "--model=someone/model", "--text=a", env={"HF_HUB_OFFLINE": "1"})
    assert_one_line_error(result, r"someone/model: no such local folder, and HF_HUB_OFFLINE is set")


def test_evaluate_refuses_a_model_of_another_task_and_an_empty_file(tiny_export, tmp_path):
    write_rte(tmp_path / "data")
    args = [f"--model={tiny_export.directory}", "--task=rte", f"--data_dir={tmp_path / 'data'}"]
    result = run_tool("evaluate.py", *args)
    assert_one_line_error(result, r"has 3 labels \['x', 'y', 'z'\]; task rte has 2", code=2)
    (tmp_path / "data" / "superglue" / "RTE" / "val.jsonl").write_text("\n")
    result = run_tool("evaluate.py", *args)
    assert_one_line_error(result, r"RTE/val\.jsonl: no examples in the rte val file")


@pytest.mark.parametrize(
    "override, pattern",
    [
        ("finetune.batch_size=0", r"finetune\.batch_size=0 in the recipe \(defaults, .*rte\.yaml, --params_override"),
        ("finetune.epochs=0", r"finetune\.epochs=0 .*: it must be >= 1"),
        ("finetune.learning_rate=-1e-5", r"finetune\.learning_rate=-1e-05 .*: it must be > 0"),
        ("finetune.epoch=2", r"Bad recipe from --params_override: Key 'epoch' not in 'FinetuneConfig'"),
    ],
)
def test_finetune_refuses_bad_recipes_before_writing(tmp_path, override, pattern):
    result = run_tool("finetune.py", "--task=rte", f"--output_dir={tmp_path / 'run'}", f"--params_override={override}")
    assert_one_line_error(result, pattern)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, pattern, code",
    [
        (["--keep_layers=1,x"], r"flag --keep_layers=1,x: \['x'\] are not layer indices", 2),
        (["--params_override=distill.temperature=0"], r"distill\.temperature=0\.0 .*: it must be > 0", 1),
        (["--transfer=augment:zero"], r"distill\.transfer=\[.augment:zero.\] .*split:NAME, file:PATH, augment:N", 1),
        ([], r"distill\.teacher is empty: pass --teacher=DIR", 1),
        (["--teacher=TEACHER", "--keep_layers=0,7"], r"distill\.keep_layers=\[0, 7\]: indices \[7\] out of range", 1),
        (
            [
                "--teacher=TEACHER",
                "--transfer=split:val",
                "--params_override=distill.max_length=16,distill.eval_split=val",
            ],
            r"split:val is the evaluation split",
            1,
        ),
        (
            ["--teacher=TEACHER", "--transfer=split:holdout", "--params_override=distill.max_length=16"],
            r"split:holdout is the hold-out; no stage may train on it",
            1,
        ),
    ],
)
def test_distill_refuses_bad_flags_in_one_line(tmp_path, args, pattern, code):
    from tests.distill.test_run import RTE_LABELS

    write_rte(tmp_path / "data")
    save_model(tiny.classifier(2, RTE_LABELS), str(tmp_path / "teacher"), tokenizer=tiny.tokenizer(str(tmp_path)))
    save_model(tiny.encoder(), str(tmp_path / "student"), tokenizer=tiny.tokenizer(str(tmp_path)))
    args = [a.replace("TEACHER", str(tmp_path / "teacher")) for a in args]
    result = run_tool(
        "distill.py",
        "--task=rte",
        f"--student={tmp_path / 'student'}",
        f"--data_dir={tmp_path / 'data'}",
        f"--output_dir={tmp_path / 'run'}",
        *args,
        env={"HOME": str(tmp_path)},  # caches under tmp_path
    )
    assert_one_line_error(result, pattern, code=code)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, pattern",
    [
        ([], r"prune\.model is empty: pass --model=DIR"),
        (["--model=MODEL"], r"prune: no target; set prune\.target_heads"),
        (["--model=MODEL", "--target_ffn=-1"], r"prune\.target_ffn=-1\.0 .*: it must be 0 \(keep all\), a fraction"),
        (["--model=MODEL", "--target_heads=2.5"], r"prune\.target_heads=2\.5 .*or a whole number per layer"),
        (["--model=NOPE", "--target_heads=0.5"], r"nope: no such model folder"),
        (
            ["--model=MODEL", "--target_heads=0.5", "--params_override=prune.score_split=holdout"],
            r"prune\.score_split=holdout is the evaluation split",
        ),
    ],
)
def test_prune_refuses_bad_flags_in_one_line(tmp_path, args, pattern):
    from tests.distill.test_run import RTE_LABELS

    write_rte(tmp_path / "data")
    save_model(tiny.classifier(2, RTE_LABELS), str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    args = [a.replace("MODEL", str(tmp_path / "model")).replace("NOPE", str(tmp_path / "nope")) for a in args]
    result = run_tool(
        "prune.py",
        "--task=rte",
        f"--data_dir={tmp_path / 'data'}",
        f"--output_dir={tmp_path / 'run'}",
        "--params_override=distill.max_length=16",
        *args,
        env={"HOME": str(tmp_path)},
    )
    assert_one_line_error(result, pattern)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("tool, flag", [("prune.py", "--model"), ("distill.py", "--teacher")])
def test_an_export_where_a_model_folder_is_needed_is_named(tiny_export, tmp_path, tool, flag):
    write_rte(tmp_path / "data")
    args = ["--target_heads=0.5"] if tool == "prune.py" else [f"--student={tiny_export.directory}"]
    result = run_tool(
        tool,
        "--task=rte",
        f"--data_dir={tmp_path / 'data'}",
        f"--output_dir={tmp_path / 'run'}",
        f"{flag}={tiny_export.directory}",
        *args,
        env={"HOME": str(tmp_path)},
    )
    assert_one_line_error(result, r"is an export folder \(ONNX/TFLite files for serving.*needs a trained model folder")
    assert not (tmp_path / "run").exists()


def test_export_never_replaces_the_model_folder_it_reads(tmp_path):
    model = tmp_path / "model"
    save_model(
        tiny.classifier(num_classes=2, labels=["entailment", "not_entailment"]),
        str(model),
        tokenizer=tiny.tokenizer(str(tmp_path)),
    )
    files = {p.name: p.read_bytes() for p in model.iterdir()}
    for output in (model, tmp_path / "elsewhere"):
        if output != model:  # another folder holding a trained model
            save_model(tiny.classifier(num_classes=2), str(output), tokenizer=tiny.tokenizer(str(tmp_path)))
        result = run_tool("export.py", f"--model={model}", f"--output_dir={output}")
        assert_one_line_error(result, rf"{output.name} holds a fastformers_tf model folder, which writing a export")
    assert {p.name: p.read_bytes() for p in model.iterdir()} == files


def test_a_precision_the_artefact_does_not_have_is_refused(tiny_export, tmp_path):
    save_model(tiny.classifier(num_classes=2), str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    result = run_tool("predict.py", f"--model={tmp_path / 'model'}", "--precision=int8", "--text=a")
    assert_one_line_error(result, r"precision=int8: a Keras model runs in fp32 only; export it")
    int8_file = os.path.join(tiny_export.directory, "model.int8.onnx")
    result = run_tool("predict.py", f"--model={int8_file}", "--precision=fp32", "--text=a")
    assert_one_line_error(result, r"precision=fp32: .*model\.int8\.onnx is the int8 onnx file of its export")
    assert run_tool("predict.py", f"--model={int8_file}", "--precision=int8", "--text=a").returncode == 0
