"""Students: layer subsets with weights copied, a new shape initialised where shapes allow, an activation swap."""

import numpy as np
import pytest

from fastformers_tf.distill.students import keep_layers, reshape, with_activation
from fastformers_tf.errors import ArgumentError
from tests import tiny


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_keeping_every_layer_gives_the_same_outputs_and_a_subset_copies_its_layers(family):
    encoder = tiny.randomize(tiny.encoder(family, num_heads=[2, 3, 4], intermediate_dim=[37, 11, 5]), seed=1)
    inputs = encoder.dummy_inputs(3, 9)
    same = keep_layers(encoder, [0, 1, 2])
    np.testing.assert_allclose(same(inputs)["sequence_output"], encoder(inputs)["sequence_output"], atol=1e-6)
    sub = keep_layers(encoder, [2, 0])
    assert sub.config.num_layers == 2 and sub.config.num_heads == [4, 2] and sub.config.intermediate_dim == [5, 37]
    for dst, src in zip(sub.transformer_layers, [encoder.transformer_layers[i] for i in (2, 0)], strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(dst.get_weights(), src.get_weights(), strict=True))
    if family == "mpnet":
        assert sub.config.head_ids == [[0, 1, 2, 3], [0, 1]]
    assert encoder.config.num_layers == 3  # the input is unchanged


@pytest.mark.parametrize(
    "layers, message", [([0, 3], r"indices \[3\] out of range"), ([], "no layers"), ([1, 1], "repeated indices")]
)
def test_bad_layer_lists_name_the_flag_and_the_range(layers, message):
    with pytest.raises(ArgumentError, match=rf"distill.keep_layers=.*{message}; .*layers 0..2"):
        keep_layers(tiny.encoder(), layers)


def test_a_new_shape_takes_the_leading_blocks_of_the_mapped_layers():
    encoder = tiny.randomize(tiny.encoder(), seed=2)  # 3 layers, width 32, 4 heads of 8, FFN 37
    student, report = reshape(encoder, num_layers=1, hidden_dim=24, num_heads=3, intermediate_dim=41)
    assert (student.config.num_layers, student.config.hidden_dim, student.config.head_dim) == (1, 24, 8)
    src, dst = encoder.transformer_layers[2], student.transformer_layers[0]  # uniform map: layer 0 <- layer 2
    np.testing.assert_array_equal(dst.attention.query.kernel.numpy(), src.attention.query.kernel.numpy()[:24, :24])
    np.testing.assert_array_equal(student.embeddings.weights[0].numpy(), encoder.embeddings.weights[0].numpy()[:, :24])
    # FFN 41 > 37: those weights cannot come from the source and stay random.
    assert not np.array_equal(dst.intermediate.kernel.numpy()[:24, :37], src.intermediate.kernel.numpy()[:24, :37])
    assert report["random"] >= 2 and report["copied_in_part"] > 0 and sum(report.values()) == len(student.weights)
    with pytest.raises(ArgumentError, match="hidden_dim=30 is not a multiple of distill.num_heads=4"):
        reshape(encoder, hidden_dim=30)


def test_the_activation_swap_keeps_the_weights_and_changes_the_function():
    encoder = tiny.randomize(tiny.encoder(), seed=3)
    relu = with_activation(encoder, "relu")
    assert relu.config.activation == "relu" and with_activation(encoder, "") is encoder
    assert all(np.array_equal(a, b) for a, b in zip(relu.get_weights(), encoder.get_weights(), strict=True))
    inputs = encoder.dummy_inputs()
    assert not np.allclose(relu(inputs)["sequence_output"], encoder(inputs)["sequence_output"], atol=1e-4)
