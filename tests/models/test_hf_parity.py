"""Our encoder vs transformers' TF classes (4.57) on the same weights."""

import re

import numpy as np
import pytest
import transformers

from fastformers_tf.models.checkpoint import encoder_from_hf_checkpoint
from fastformers_tf.prune import PrunePlan, prune
from tests import tiny

HF = {
    "bert": (transformers.BertConfig, transformers.TFBertModel, {}),
    "roberta": (transformers.RobertaConfig, transformers.TFRobertaModel, dict(pad_token_id=1, type_vocab_size=1)),
    "mpnet": (transformers.MPNetConfig, transformers.TFMPNetModel, dict(pad_token_id=1)),
}
HF_SIZES = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)


def hf_model(family):
    config_cls, model_cls, extra = HF[family]
    model = model_cls(config_cls(**HF_SIZES, **extra))
    model(model.dummy_inputs)
    return tiny.randomize(model)


def zero_removed_units(model, plan, head_dim=8):
    """Zeroes the value projections of removed heads and the weights of removed FFN units.

    A head whose values are zero adds nothing to the attention output and an
    FFN unit with zero pre-activation adds GELU(0) = 0, so the full model then
    computes what the physically pruned model computes.
    """
    for w in model.weights:
        match = re.search(r"layer_\._(\d+)/", w.name)
        if not match:
            continue
        layer = int(match.group(1))
        value = w.numpy()
        if re.search(r"/attention/(self/value|attn/v)/", w.name):
            removed = [h for h in range(4) if h not in plan.heads[layer]]
            cols = [c for h in removed for c in range(h * head_dim, (h + 1) * head_dim)]
            value[..., cols] = 0.0
        elif "/intermediate/dense/" in w.name:
            removed = [u for u in range(37) if u not in plan.ffn_units[layer]]
            value[..., removed] = 0.0
        else:
            continue
        w.assign(value)


def hf_hidden_states(model, family, ids, segments, mask):
    kwargs = dict(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    if family == "bert":
        kwargs["token_type_ids"] = segments
    return [h.numpy() for h in model(**kwargs).hidden_states]


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet"])
@pytest.mark.parametrize("uneven", [False, True], ids=["full", "uneven"])
@pytest.mark.parametrize("weight_format", ["h5", "safetensors"])
def test_hidden_states_match_transformers(family, uneven, weight_format, tmp_path):
    reference = hf_model(family)
    plan = PrunePlan(**tiny.UNEVEN_PLAN)
    if uneven:
        zero_removed_units(reference, plan)
    reference.save_pretrained(tmp_path, safe_serialization=weight_format == "safetensors")

    ours = encoder_from_hf_checkpoint(str(tmp_path), output_hidden_states=True)
    if uneven:
        ours = prune(ours, plan)
        assert ours.config.num_heads == [2, 3, 0] and ours.config.intermediate_dim == [37, 11, 0]

    pad_id = reference.config.pad_token_id or 0
    ids, segments, mask = tiny.token_batch(pad_id=pad_id)
    expected = hf_hidden_states(reference, family, ids, segments, mask)
    got = ours(tiny.encoder_inputs(ours, ids, segments, mask))["hidden_states"]
    assert len(got) == len(expected) == 4
    for layer, (e, g) in enumerate(zip(expected, got, strict=True)):
        np.testing.assert_allclose(g.numpy(), e, atol=1e-5, rtol=0, err_msg=f"hidden state {layer}")


def test_position_bias_buckets_match_transformers():
    from transformers.models.mpnet.modeling_tf_mpnet import TFMPNetEncoder

    from fastformers_tf.models.position_bias import relative_position_buckets

    positions = np.arange(300)
    relative = positions[None, :] - positions[:, None]
    expected = TFMPNetEncoder._relative_position_bucket(relative, num_buckets=32, max_distance=128).numpy()
    table = relative_position_buckets(514, 32, 128)
    np.testing.assert_array_equal(table[relative + 513], expected)
