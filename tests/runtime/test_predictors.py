"""One predictor interface over Keras, ONNX Runtime and TFLite; serving without TensorFlow."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastformers_tf.runtime import KerasPredictor, OnnxPredictor, TfLitePredictor, load_predictor
from fastformers_tf.runtime.load import EXPORT_FILES, infer_backend
from tests import tiny
from tests.harness import ROOT, TEXTS

PAIRS = ["a movie", "the game", "bad film", "great", "", "the law", "soup", "won"]


@pytest.mark.parametrize(
    "backend, precision, atol",
    [
        ("onnx", "fp32", 1e-4),
        ("tflite", "fp32", 1e-4),
        ("onnx", "int8", None),
        ("onnx", "fp16", 1e-2),
        ("tflite", "int8", None),
    ],
)
def test_every_backend_gives_keras_results_in_input_order(tiny_export, backend, precision, atol):
    keras = KerasPredictor(tiny_export.model, tiny_export.tokenizer, batch_size=3)
    predictor = load_predictor(tiny_export.directory, backend, precision, threads=1, batch_size=3)
    assert predictor.labels == ["x", "y", "z"]
    for pairs in (None, PAIRS):
        expected, got = keras.logits(TEXTS, pairs), predictor.logits(TEXTS, pairs)
        if atol:
            np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
        assert np.mean(got.argmax(-1) == expected.argmax(-1)) >= 0.85
    assert len(set(expected.argmax(-1))) > 1  # the agreement above is not trivial
    labels = predictor.predict(TEXTS, PAIRS)
    assert [label for label, _ in labels] == [predictor.labels[k] for k in got.argmax(-1)]


def test_batched_results_equal_one_by_one(tiny_export):
    predictor = load_predictor(tiny_export.directory, "onnx", batch_size=3)
    batched = predictor.logits(TEXTS)
    np.testing.assert_allclose(batched, np.concatenate([predictor.logits([t]) for t in TEXTS]), atol=1e-5)
    assert predictor.logits([]).shape == (0,)


def test_load_predictor_finds_files_and_backends(tiny_export):
    directory = tiny_export.directory
    assert infer_backend(directory) == "onnx"
    assert infer_backend(os.path.join(directory, "model.int8.tflite")) == "tflite"
    assert isinstance(load_predictor(os.path.join(directory, "model.int8.tflite")), TfLitePredictor)
    predictor = load_predictor(directory, precision="int8")
    assert isinstance(predictor, OnnxPredictor) and predictor.path.endswith(EXPORT_FILES["onnx", "int8"])
    with pytest.raises(ValueError, match="No fp16 tflite export"):
        load_predictor(directory, "tflite", "fp16")
    with pytest.raises(FileNotFoundError, match="no such exported file or export directory"):
        load_predictor(os.path.join(directory, "missing"), "onnx")


def test_encoder_embeddings_from_onnx_equal_keras(tmp_path):
    from fastformers_tf.export import export_onnx

    encoder = tiny.randomize(tiny.encoder())
    tokenizer = tiny.tokenizer(str(tmp_path))
    export_onnx(encoder, str(tmp_path / "encoder.onnx"))
    onnx_predictor = OnnxPredictor(str(tmp_path / "encoder.onnx"), tokenizer)
    np.testing.assert_allclose(onnx_predictor.embed(TEXTS), KerasPredictor(encoder, tokenizer).embed(TEXTS), atol=1e-5)
    with pytest.raises(TypeError, match="logits\\(\\) needs a model with a 'logits' output"):
        onnx_predictor.logits(TEXTS)


SERVE = """
import json, sys
# As if TensorFlow, Keras, tf2onnx and torch were not installed: importing one raises ImportError,
# and transformers' find_spec checks see them as absent.
for name in ("tensorflow", "tf_keras", "keras", "tf2onnx", "torch"):
    sys.modules[name] = None
from fastformers_tf.runtime import load_predictor
results = {}
for backend, precision in [("onnx", "fp32"), ("onnx", "int8"), ("tflite", "int8")]:
    predictor = load_predictor(sys.argv[1], backend, precision)
    logits = predictor.logits(sys.argv[2:]).tolist()
    results[backend + "/" + precision] = {"logits": logits, "predict": predictor.predict(sys.argv[2:])}
import fastformers_tf, fastformers_tf.export.quantize, fastformers_tf.export.fp16  # ONNX-only helpers too
print(json.dumps(results))
"""


def test_onnx_and_tflite_serving_never_imports_tensorflow(tiny_export):
    result = subprocess.run(
        [sys.executable, "-c", SERVE, tiny_export.directory, *TEXTS],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("USE_TF", "USE_TORCH")} | {"PYTHONPATH": ROOT},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout.strip().splitlines()[-1])
    expected = KerasPredictor(tiny_export.model, tiny_export.tokenizer).logits(TEXTS)
    assert sorted(results) == ["onnx/fp32", "onnx/int8", "tflite/int8"]
    for name, served in results.items():
        logits = np.array(served["logits"])
        if name == "onnx/fp32":
            np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
        assert np.mean(logits.argmax(-1) == expected.argmax(-1)) >= 0.85, name
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        assert [label for label, _ in served["predict"]] == [["x", "y", "z"][k] for k in logits.argmax(-1)], name
        np.testing.assert_allclose([p for _, p in served["predict"]], probs.max(-1), rtol=1e-5)
    assert len(set(expected.argmax(-1))) > 1  # the agreement above is not trivial


LAZY = """
import sys
import fastformers_tf as ff
import fastformers_tf.prune.plan
assert "tensorflow" not in sys.modules
assert ff.PrunePlan.__name__ == "PrunePlan" and "TextClassifier" in dir(ff)
# The stages are packages; the verbs that run them have names of their own.
import fastformers_tf.distill as d, fastformers_tf.prune as p, fastformers_tf.compress as c
assert [type(m).__name__ for m in (d, p, c, ff.distill, ff.prune, ff.compress)] == ["module"] * 6
assert "tensorflow" not in sys.modules
assert p.PrunePlan is ff.PrunePlan and callable(ff.prune.prune)
assert ff.compress_model is c.compress and ff.distill_model is d.distill and ff.prune_model is p.prune_model
assert ff.keras.__name__ == "tf_keras" and "tensorflow" in sys.modules
"""


def test_package_names_load_tensorflow_on_first_use():
    result = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_minilm_zero_shot_is_the_same_on_every_backend(tmp_path):
    from fastformers_tf.export import ExportOptions, export_all
    from fastformers_tf.models import from_pretrained, load_tokenizer

    encoder, tokenizer = from_pretrained("all-MiniLM-L6-v2"), load_tokenizer("all-MiniLM-L6-v2")
    report = export_all(encoder, str(tmp_path), tokenizer, ExportOptions(int8=True, tflite=True))
    # Every layer fuses (the MiniLM export test of the classifier was folded into this one to save CI time).
    assert report["op_counts"]["onnx/fp32"]["Attention"] == 6
    assert report["op_counts"]["onnx/fp32"]["BiasGelu"] == 6
    assert report["op_counts"]["onnx/fp32"]["SkipLayerNormalization"] >= 11
    assert report["op_counts"]["onnx/int8"]["QAttention"] == 6
    texts = {
        "The team won the championship game.": "sports",
        "Parliament passed the new budget bill last night.": "politics",
        "The new phone has a faster chip and better camera.": "technology",
        "Simmer the onions in butter until golden.": "cooking",
    }
    labels = ["sports", "politics", "technology", "cooking"]
    expected = KerasPredictor(encoder, tokenizer).embed(list(texts))
    for backend, precision, min_cosine in [
        ("onnx", "fp32", 0.99999),
        ("tflite", "fp32", 0.99999),
        ("onnx", "int8", 0.98),
        ("tflite", "int8", 0.98),
    ]:
        predictor = load_predictor(str(tmp_path), backend, precision, threads=2)
        cosine = (predictor.embed(list(texts)) * expected).sum(-1)  # both L2-normalized
        assert cosine.min() >= min_cosine, (backend, precision, cosine)
        assert [label for label, _ in predictor.zero_shot(list(texts), labels)] == list(texts.values())


def test_exports_from_before_the_hugging_face_names_still_serve(tiny_export, tmp_path):
    import onnx

    from fastformers_tf.export.onnx import _rename
    from fastformers_tf.runtime.names import INNER_NAMES

    new = os.path.join(tiny_export.directory, "model.opt.onnx")
    proto = onnx.load(new)
    assert {x.name for x in proto.graph.input} == {"input_ids", "attention_mask", "token_type_ids"}
    _rename(proto, INNER_NAMES)  # the inner names, as exports were written before
    old = str(tmp_path / "old.onnx")
    onnx.save(proto, old)
    assert {x.name for x in onnx.load(old).graph.input} == {"token_ids", "padding_mask", "segment_ids"}
    expected = OnnxPredictor(new, tiny_export.tokenizer).logits(TEXTS)
    np.testing.assert_array_equal(OnnxPredictor(old, tiny_export.tokenizer).logits(TEXTS), expected)


def test_an_export_folder_carries_a_hugging_face_config(tiny_export):
    import json

    with open(os.path.join(tiny_export.directory, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    assert config["model_type"] == "bert" and config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "x", "1": "y", "2": "z"} and config["label2id"] == {"x": 0, "y": 1, "z": 2}
    # The pruned, uneven model: the unpruned sizes for transformers, the real ones beside them.
    assert config["num_attention_heads"] == 4 and config["intermediate_size"] == 37
    assert config["fastformers_layers"] == {"num_heads": [2, 3, 0], "intermediate_dim": [37, 11, 0], "head_dim": 8}
