"""Config and save/load round trips, uneven models included."""

import numpy as np
import pytest

from fastformers_tf.models import EncoderConfig, TextClassifier, TransformerEncoder, load_model, save_model
from fastformers_tf.prune import PrunePlan, prune
from tests import tiny


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet"])
def test_get_config_round_trip_keeps_outputs(family):
    encoder = prune(tiny.encoder(family, output_hidden_states=True), PrunePlan(**tiny.UNEVEN_PLAN))
    config = encoder.get_config()
    assert config["num_heads"] == [2, 3, 0] and config["intermediate_dim"] == [37, 11, 0]
    clone = TransformerEncoder.from_config(config)
    assert clone.get_config() == {**config, "name": clone.name}
    clone.set_weights(encoder.get_weights())
    inputs = encoder.dummy_inputs()
    np.testing.assert_array_equal(clone(inputs)["sequence_output"], encoder(inputs)["sequence_output"])


def test_int_sizes_are_written_as_lists():
    config = tiny.encoder().get_config()
    assert config["num_heads"] == [4, 4, 4] and config["intermediate_dim"] == [37, 37, 37]


def test_head_dim_is_independent_of_hidden_dim():
    encoder = TransformerEncoder(
        vocab_size=99, num_layers=2, hidden_dim=32, num_heads=[3, 1], head_dim=5, intermediate_dim=7
    )
    assert encoder.transformer_layers[0].attention.query.kernel.shape == (32, 15)
    assert encoder(encoder.dummy_inputs())["sequence_output"].shape == (2, 7, 32)


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_save_and_load_uneven_classifier_is_lossless(family, tmp_path):
    encoder = prune(tiny.encoder(family), PrunePlan(**tiny.UNEVEN_PLAN))
    model = TextClassifier(encoder, num_classes=3, pooling="mean", labels=["a", "b", "c"])
    save_model(model, str(tmp_path))
    loaded = load_model(str(tmp_path))
    assert isinstance(loaded, TextClassifier) and loaded.labels == ["a", "b", "c"]
    assert loaded.encoder.config == encoder.config
    for saved, restored in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    inputs = encoder.dummy_inputs()
    np.testing.assert_array_equal(loaded(inputs).numpy(), model(inputs).numpy())


def test_load_model_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="fastformers_model.json"):
        load_model(str(tmp_path))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_heads=[4, 4]), "num_heads` has 2 entries"),
        (dict(intermediate_dim=[37, -1, 3]), "must be >= 0"),
        (dict(num_heads=[0, 0, 0], head_dim=None), "Cannot derive head_dim"),
        (dict(family="gpt"), "Unknown family"),
        (dict(activation="swish"), "Unknown activation"),
    ],
)
def test_bad_config_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EncoderConfig(**{**tiny.SIZES, **kwargs})
