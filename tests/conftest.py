import pytest

from fastformers_tf.backend import keras, tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything else)
from tests import tiny


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def uneven_encoder():
    return tiny.encoder(num_heads=[2, 3, 0], intermediate_dim=[37, 11, 0])
