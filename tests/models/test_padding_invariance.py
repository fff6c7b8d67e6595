"""Extra padding changes nothing: the premise of dynamic-length batching."""

import numpy as np
import pytest

from fastformers_tf.models import TextClassifier
from tests import tiny


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet"])
def test_logits_do_not_depend_on_padding_length(family):
    model = TextClassifier(tiny.randomize(tiny.encoder(family)), num_classes=3, pooling="mean")
    pad_id = model.encoder.config.pad_token_id
    ids, segments, mask = tiny.token_batch(pad_id=pad_id)  # lengths 11, 7, 2
    short = tiny.encoder_inputs(model.encoder, ids, segments, mask)
    extra = 29
    padded = {
        k: np.pad(v, ((0, 0), (0, extra)), constant_values=pad_id if k == "token_ids" else 0) for k, v in short.items()
    }
    np.testing.assert_allclose(model(padded).numpy(), model(short).numpy(), atol=1e-5)
