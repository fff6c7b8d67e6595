import pytest

from fastformers_tf.backend import keras, tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything else)
from tests import tiny


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def uneven_encoder():
    return tiny.encoder(num_heads=[2, 3, 0], intermediate_dim=[37, 11, 0])


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """`tiny.classifier()` exported to every format (ONNX fp32/int8/fp16, TFLite fp32/int8) with its tokenizer."""
    import types

    from fastformers_tf.export import ExportOptions, export_all

    model = tiny.classifier(labels=["x", "y", "z"])
    tokenizer = tiny.tokenizer(str(tmp_path_factory.mktemp("vocab")))
    directory = str(tmp_path_factory.mktemp("tiny_export"))
    report = export_all(model, directory, tokenizer, ExportOptions(int8=True, fp16=True, tflite=True))
    return types.SimpleNamespace(model=model, tokenizer=tokenizer, directory=directory, report=report)
