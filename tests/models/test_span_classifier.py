import numpy as np

from fastformers_tf.models import SpanClassifier, load_model, save_model
from fastformers_tf.prune import PrunePlan, prune
from tests import tiny


def span_inputs(encoder):
    inputs = encoder.dummy_inputs(batch_size=2, seq_len=7)
    masks = np.zeros((2, 2, 7), np.float32)
    masks[0, 0, 1:3] = masks[0, 1, 4] = masks[1, 0, 2] = masks[1, 1, 3] = 1
    return {**inputs, "span_masks": masks}


def test_span_pooling_changes_with_the_span_and_round_trips(tmp_path):
    model = SpanClassifier(tiny.randomize(tiny.encoder()), num_spans=2, num_classes=2, labels=["false", "true"])
    tiny.randomize(model.output_dense)
    inputs = span_inputs(model.encoder)
    logits = model(inputs).numpy()
    moved = {**inputs, "span_masks": np.roll(inputs["span_masks"], 1, axis=-1)}
    assert logits.shape == (2, 2) and np.abs(model(moved).numpy() - logits).max() > 1e-4
    save_model(model, str(tmp_path))
    np.testing.assert_array_equal(load_model(str(tmp_path))(inputs).numpy(), logits)


def test_span_classifier_prunes_to_what_its_masked_encoder_computes():
    from fastformers_tf.prune.importance import with_masks
    from tests.prune.test_apply import batch_mask

    model = SpanClassifier(tiny.randomize(tiny.encoder(), seed=3), num_spans=2, num_classes=2)
    tiny.randomize(model.output_dense)
    plan = PrunePlan(**tiny.UNEVEN_PLAN)
    pruned = prune(model, plan)
    assert isinstance(pruned, SpanClassifier) and pruned.encoder.config.num_heads == [2, 3, 0]
    inputs = span_inputs(model.encoder)
    config = model.encoder.config
    masks = {
        "head_mask": batch_mask(config.num_heads, plan.heads, 2),
        "ffn_mask": batch_mask(config.intermediate_dim, plan.ffn_units, 2),
    }
    expected = with_masks(model)({**inputs, **masks}).numpy()
    np.testing.assert_allclose(pruned(inputs).numpy(), expected, atol=1e-5)
    assert np.abs(model(inputs).numpy() - expected).max() > 1e-4  # the plan removed something that mattered
