"""Checkpoint files: PyTorch-layout round trip, and clear errors for bad input."""

import json
import os
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from fastformers_tf.models import CheckpointError, encoder_from_hf_checkpoint, from_pretrained, save_hf_checkpoint
from tests import tiny


@pytest.fixture
def checkpoint(tmp_path):
    """A tiny BERT written as a Hugging Face PyTorch-layout checkpoint."""
    encoder = tiny.randomize(tiny.encoder())
    save_hf_checkpoint(encoder, str(tmp_path))
    return encoder, tmp_path


def rewrite_tensors(path, edit):
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path), metadata={"format": "pt"})


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet"])
def test_hf_checkpoint_round_trip(family, tmp_path):
    encoder = tiny.randomize(tiny.encoder(family))
    save_hf_checkpoint(encoder, str(tmp_path))
    loaded = encoder_from_hf_checkpoint(str(tmp_path))
    assert loaded.config == encoder.config
    inputs = encoder.dummy_inputs()
    np.testing.assert_array_equal(loaded(inputs)["sequence_output"], encoder(inputs)["sequence_output"])


class IterableSafeOpen:
    """`safetensors.safe_open` that iterates over its tensor names, as transformers' TF loader still expects.

    safetensors 0.8 handles are not iterable, so transformers 4.57's TF loading of a PyTorch-layout
    safetensors file fails with "'builtins.safe_open' object is not iterable" (huggingface/transformers#40028).
    """

    def __init__(self, *args, **kwargs):
        import safetensors

        self.handle = safetensors.safe_open(*args, **kwargs)

    def __enter__(self):
        self.handle.__enter__()
        return self

    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)

    def __iter__(self):
        return iter(self.handle.keys())

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet"])
def test_transformers_loads_our_checkpoint_and_computes_our_outputs(family, tmp_path, monkeypatch):
    import transformers
    import transformers.modeling_tf_utils

    monkeypatch.setattr(transformers.modeling_tf_utils, "safe_open", IterableSafeOpen)
    encoder = tiny.randomize(tiny.encoder(family))
    save_hf_checkpoint(encoder, str(tmp_path))
    model_cls = {"bert": transformers.TFBertModel, "roberta": transformers.TFRobertaModel}.get(
        family, transformers.TFMPNetModel
    )
    reference, info = model_cls.from_pretrained(str(tmp_path), output_loading_info=True)  # no torch: TF weights
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    ids, segments, mask = tiny.token_batch(pad_id=encoder.config.pad_token_id)
    kwargs = dict(input_ids=ids, attention_mask=mask)
    if family == "bert":
        kwargs["token_type_ids"] = segments
    expected = reference(**kwargs)
    ours = encoder(tiny.encoder_inputs(encoder, ids, segments, mask))
    np.testing.assert_allclose(ours["sequence_output"], expected.last_hidden_state, atol=1e-5)
    np.testing.assert_allclose(ours["pooled_output"], expected.pooler_output, atol=1e-5)


def test_task_prefix_and_extra_heads_are_accepted(checkpoint):
    encoder, path = checkpoint

    def add_prefix_and_heads(tensors):
        for name in list(tensors):
            tensors[f"bert.{name}"] = tensors.pop(name)
        tensors["classifier.weight"] = np.zeros((2, 32), np.float32)
        tensors["bert.embeddings.position_ids"] = np.arange(64, dtype=np.int64)[None]

    rewrite_tensors(path / "model.safetensors", add_prefix_and_heads)
    loaded = encoder_from_hf_checkpoint(str(path))
    np.testing.assert_array_equal(loaded.pooler.kernel.numpy(), encoder.pooler.kernel.numpy())


def test_missing_pooler_keeps_initialization_with_warning(checkpoint, caplog):
    _, path = checkpoint
    rewrite_tensors(
        path / "model.safetensors", lambda t: [t.pop(n) for n in ("pooler.dense.weight", "pooler.dense.bias")]
    )
    encoder_from_hf_checkpoint(str(path))
    assert "no pooler weights" in caplog.text


def test_directory_without_config(tmp_path):
    with pytest.raises(CheckpointError, match="No config.json in checkpoint directory"):
        encoder_from_hf_checkpoint(str(tmp_path))


def test_directory_without_weights(checkpoint):
    _, path = checkpoint
    os.remove(path / "model.safetensors")
    with pytest.raises(CheckpointError, match="No weights in .*model.safetensors"):
        encoder_from_hf_checkpoint(str(path))


def test_truncated_safetensors_names_the_file(checkpoint):
    _, path = checkpoint
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"Cannot read safetensors file .*model\.safetensors.*truncated"):
        encoder_from_hf_checkpoint(str(path))


def test_wrong_shape_names_the_tensor(checkpoint):
    _, path = checkpoint
    name = "encoder.layer.1.intermediate.dense.weight"
    rewrite_tensors(path / "model.safetensors", lambda t: t.update({name: np.zeros((36, 32), np.float32)}))
    with pytest.raises(CheckpointError, match=rf"tensor '{name}' has shape \(36, 32\), the model expects \(37, 32\)"):
        encoder_from_hf_checkpoint(str(path))


def test_missing_tensor_is_named(checkpoint):
    _, path = checkpoint
    rewrite_tensors(path / "model.safetensors", lambda t: t.pop("encoder.layer.2.output.LayerNorm.bias"))
    with pytest.raises(CheckpointError, match="lacks tensors the model needs: encoder.layer.2.output.LayerNorm.bias"):
        encoder_from_hf_checkpoint(str(path))


def test_unexpected_tensor_is_named(checkpoint):
    _, path = checkpoint
    rewrite_tensors(
        path / "model.safetensors", lambda t: t.update({"encoder.layer.3.mystery": np.zeros(2, np.float32)})
    )
    with pytest.raises(CheckpointError, match="does not know: encoder.layer.3.mystery"):
        encoder_from_hf_checkpoint(str(path))


def test_unsupported_model_type_names_config(checkpoint):
    _, path = checkpoint
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(CheckpointError, match=r"config\.json: Unsupported model_type 'gpt2'"):
        encoder_from_hf_checkpoint(str(path))


def test_pytorch_bin_without_torch_is_a_clear_error(checkpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails, installed or not
    _, path = checkpoint
    os.remove(path / "model.safetensors")
    (path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(CheckpointError, match="pytorch_model.bin is a PyTorch pickle and needs torch"):
        encoder_from_hf_checkpoint(str(path))


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(FileNotFoundError, match="no-such-model: no such model folder.*all-MiniLM-L6-v2"):
        from_pretrained("no-such-model")


def test_hub_id_that_cannot_be_fetched_says_the_hub_was_tried(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no network, whatever the machine has
    with pytest.raises(FileNotFoundError, match="tried it as a Hugging Face hub id.*packaged model.*all-MiniLM-L6-v2"):
        from_pretrained("someone/some-bert")


def test_a_mistyped_local_path_never_goes_to_the_hub(monkeypatch, tmp_path):
    import fastformers_tf.models.pretrained as pretrained

    monkeypatch.setattr(pretrained, "_download", lambda name: pytest.fail(f"tried to download {name}"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(FileNotFoundError, match="runs/best: no such model folder"):
        from_pretrained("runs/best")  # `runs/` is here: a path, not a hub owner
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE is set, so the hub id was not tried"):
        from_pretrained("someone/some-bert")


def test_heads_that_do_not_split_hidden_size_are_named(checkpoint):
    _, path = checkpoint
    config = json.loads((path / "config.json").read_text())
    config["num_attention_heads"] = 5  # hidden 32
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError, match=r"config\.json: hidden_size=32 is not num_attention_heads=5 x a whole head size"
    ):
        encoder_from_hf_checkpoint(str(path))


def test_uneven_encoder_has_no_hf_config():
    with pytest.raises(ValueError, match="one head count and FFN size"):
        tiny.encoder(num_heads=[2, 3, 0]).config.to_hf()


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_a_head_pruned_encoder_round_trips_as_pruned_heads(family, tmp_path):
    from fastformers_tf.prune import PrunePlan, prune

    full = tiny.randomize(tiny.encoder(family))
    every_unit = list(range(full.config.intermediate_dim[0]))
    encoder = prune(full, PrunePlan(heads=[[0, 1], [0, 2, 3], []], ffn_units=[every_unit] * 3))
    save_hf_checkpoint(encoder, str(tmp_path))
    hf = json.loads((tmp_path / "config.json").read_text())
    # Ours are compacted to the front, so transformers prunes each layer's last heads; a layer without
    # heads keeps one of zero weights (transformers needs one).
    assert hf["pruned_heads"] == {"0": [2, 3], "1": [3], "2": [1, 2, 3]} and hf["num_attention_heads"] == 4
    loaded = encoder_from_hf_checkpoint(str(tmp_path))
    assert loaded.config.num_heads == [2, 3, 1]
    inputs = encoder.dummy_inputs()
    np.testing.assert_allclose(loaded(inputs)["sequence_output"], encoder(inputs)["sequence_output"], atol=1e-6)


def test_what_a_hugging_face_checkpoint_cannot_express_is_refused(tmp_path):
    from fastformers_tf.prune import PrunePlan, prune

    uneven = prune(tiny.randomize(tiny.encoder()), PrunePlan(**tiny.UNEVEN_PLAN))
    with pytest.raises(CheckpointError, match=r"one intermediate_size for all layers; this model has intermediate_dim"):
        save_hf_checkpoint(uneven, str(tmp_path / "a"))
    mpnet = tiny.randomize(tiny.encoder("mpnet"))
    units = list(range(mpnet.config.intermediate_dim[0]))
    pruned_mpnet = prune(mpnet, PrunePlan(heads=[[0, 1], [0, 1, 2, 3], [1]], ffn_units=[units] * 3))
    with pytest.raises(CheckpointError, match="MPNet adds its shared relative position bias for all 4 heads"):
        save_hf_checkpoint(pruned_mpnet, str(tmp_path / "b"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
