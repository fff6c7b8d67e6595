"""tools/export.py, then tools/predict.py and tools/evaluate.py on the export, in subprocesses."""

import json

import numpy as np

from fastformers_tf.models import save_model
from fastformers_tf.runtime import load_predictor
from tests import tiny
from tests.harness import PAIRS, run_tool, write_rte


def tool(name, *args):
    result = run_tool(name, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_export_then_predict_and_evaluate_the_int8_model(tmp_path):
    model = tiny.classifier(num_classes=2, labels=["entailment", "not_entailment"])
    save_model(model, str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    out = tmp_path / "export"
    printed = tool("export.py", f"--model={tmp_path / 'model'}", f"--output_dir={out}", "--int8", "--fp16")
    assert "onnx/fp32: fused ops" in printed and '"Attention": 2' in printed and '"QAttention": 2' in printed
    assert "onnx/int8: max |diff| vs Keras" in printed and "argmax agreement" in printed

    info = json.loads((out / "export.json").read_text())
    assert info["labels"] == ["entailment", "not_entailment"] and info["model_class"] == "TextClassifier"
    assert info["options"]["int8"] and info["options"]["fp16"] and not info["options"]["tflite"]
    assert isinstance(info["options"]["reduce_range"], bool)  # resolved from the CPU flags
    assert set(info["files"]) == {"onnx/fp32", "onnx/int8", "onnx/fp16"}
    assert info["parity"]["onnx/fp32"]["max_abs_diff"] < 1e-4
    fp32, int8, fp16 = (info["op_counts"][f"onnx/{p}"] for p in ("fp32", "int8", "fp16"))
    # CPU int8: every SkipLayerNormalization written back as Add + LayerNormalization; fp32 and fp16 keep the fused op.
    assert "SkipLayerNormalization" not in int8 and fp16["SkipLayerNormalization"] == fp32["SkipLayerNormalization"] > 0
    assert int8["LayerNormalization"] == fp32.get("LayerNormalization", 0) + fp32["SkipLayerNormalization"]
    assert (out / "vocab.txt").exists() and (out / "model.onnx").exists()

    printed = tool(
        "predict.py",
        f"--model={out}",
        "--backend=onnx",
        "--precision=int8",
        "--instances=2",
        "--threads=1",
        "--text=the team won",
        "--text=a bad film",
        "--text=soup",
    )
    lines = [line.split("\t") for line in printed.strip().splitlines()]
    assert [text for _, _, text in lines] == ["the team won", "a bad film", "soup"]
    # What the tool printed (2 workers) is what the same INT8 file gives in this process.
    with load_predictor(str(out), "onnx", "int8") as predictor:
        expected = predictor.predict(["the team won", "a bad film", "soup"])
    assert [label for label, _, _ in lines] == [label for label, _ in expected]
    np.testing.assert_allclose([float(p) for _, p, _ in lines], [p for _, p in expected], atol=1e-4)

    write_rte(tmp_path / "data")
    printed = tool(
        "evaluate.py",
        f"--model={out}",
        "--precision=int8",
        "--task=rte",
        f"--data_dir={tmp_path / 'data'}",
        f"--reference={tmp_path / 'model'}",
        "--max_length=16",
    )
    result = json.loads(printed.strip().splitlines()[-1])
    with load_predictor(str(out), precision="int8", max_length=16) as predictor:  # the same labels, scored here
        predicted = [
            label for label, _ in predictor.predict([p for p, _, _ in PAIRS * 2], [h for _, h, _ in PAIRS * 2])
        ]
    gold = [label for _, _, label in PAIRS * 2]
    assert result["examples"] == 8 and result["accuracy"] == np.mean(np.array(predicted) == np.array(gold))
    assert result["agreement_with_reference"] >= 0.75
    assert result["difference"]["accuracy"] == result["accuracy"] - result["reference"]["accuracy"]


def test_predict_with_the_tflite_export(tiny_export):
    printed = tool("predict.py", f"--model={tiny_export.directory}", "--backend=tflite", "--text=a great movie")
    label, probability, text = printed.strip().split("\t")
    with load_predictor(tiny_export.directory, "tflite") as predictor:
        [(expected_label, expected_probability)] = predictor.predict(["a great movie"])
    assert (label, text) == (expected_label, "a great movie")
    assert abs(float(probability) - expected_probability) < 1e-4


def test_export_and_predict_print_no_library_log_lines(tmp_path):
    """absl/TensorFlow INFO lines and TFLite's delegate line are hidden unless --verbosity=1 or --debug."""
    save_model(tiny.classifier(2, ["a", "b"]), str(tmp_path / "model"), tokenizer=tiny.tokenizer(str(tmp_path)))
    result = run_tool("export.py", f"--model={tmp_path / 'model'}", f"--output_dir={tmp_path / 'export'}", "--tflite")
    assert result.returncode == 0 and result.stderr == "", result.stderr[-3000:]
    result = run_tool("predict.py", f"--model={tmp_path / 'export'}", "--backend=tflite", "--text=hello")
    assert result.returncode == 0 and result.stderr == "", result.stderr[-3000:]
    result = run_tool("predict.py", f"--model={tmp_path / 'export'}", "--backend=tflite", "--text=hello", "--debug")
    assert "XNNPACK delegate" in result.stderr  # shown when asked for
