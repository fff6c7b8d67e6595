"""TFLite fp32 and dynamic-range INT8 exports, run in the LiteRT interpreter with resized inputs."""

import os

import numpy as np
import pytest

from fastformers_tf.export import ParityError, check_tflite, export_tflite
from fastformers_tf.export.parity import compare, sample_inputs
from fastformers_tf.export.tflite import tflite_ready
from fastformers_tf.models import TextClassifier
from fastformers_tf.runtime.tflite_predictor import TfLitePredictor, interpreter_class
from tests import tiny


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny.classifier()
    directory = tmp_path_factory.mktemp("tflite")
    fp32 = export_tflite(model, str(directory / "model.tflite"))
    int8 = export_tflite(model, str(directory / "model.int8.tflite"), int8=True)
    return model, fp32, int8


def test_runs_in_litert_when_it_is_installed():
    pytest.importorskip("ai_edge_litert")
    assert interpreter_class().__module__ == "ai_edge_litert.interpreter"


def test_fp32_matches_keras_on_the_uneven_model_at_several_shapes(exported):
    model, fp32, _ = exported
    report = check_tflite(model, fp32, atol=1e-4)  # batch 3 x 9 tokens, then 1 x 17
    assert report["max_abs_diff"] < 1e-4 and report["argmax_agreement"] == 1.0
    with pytest.raises(ParityError, match=r"model\.tflite: outputs \['logits'\] differ from Keras"):
        check_tflite(tiny.classifier(seed=7), fp32)


def test_one_interpreter_resizes_back_and_forth(exported):
    model, fp32, _ = exported
    predictor = TfLitePredictor(fp32, threads=1)
    small, large = sample_inputs(model, 2, 5), sample_inputs(model, 4, 23)
    first = predictor.forward(small)["logits"]
    assert predictor.forward(large)["logits"].shape == (4, 3)
    np.testing.assert_array_equal(predictor.forward(small)["logits"], first)


def test_int8_agrees_with_keras_on_the_top_class(exported):
    model, fp32, int8 = exported
    report = compare(model, TfLitePredictor(int8), ((16, 13), (8, 29), (8, 7)))
    assert report["argmax_agreement"] >= 0.9 and report["max_abs_diff"] < 0.5
    assert os.path.getsize(int8) < 0.85 * os.path.getsize(fp32)  # tiny model: the embeddings dominate


def test_tflite_ready_swaps_only_the_erf_gelu():
    model = tiny.classifier()
    ready = tflite_ready(model)
    assert ready.encoder.config.activation == "gelu_tflite" and ready is not model
    assert model.encoder.config.activation == "gelu"  # the input model is unchanged
    inputs = sample_inputs(model, 3, 9)
    np.testing.assert_allclose(ready(inputs).numpy(), model(inputs).numpy(), atol=1e-5)
    relu = tiny.encoder(activation="relu")
    assert tflite_ready(relu) is relu


@pytest.mark.parametrize("family", ["roberta", "mpnet"])
def test_roberta_and_mpnet_convert_with_builtin_ops(family, tmp_path):
    # MPNet's attention does not fuse in onnxruntime; TFLite is its fast path.
    model = TextClassifier(tiny.randomize(tiny.encoder(family)), num_classes=2)
    path = export_tflite(model, str(tmp_path / f"{family}.tflite"))
    assert check_tflite(model, path, atol=1e-4)["max_abs_diff"] < 1e-4
