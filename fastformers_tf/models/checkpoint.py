"""Hugging Face checkpoint files <-> `TransformerEncoder` weights, by name.

Checkpoints are read into one layout: PyTorch-style names without the model
prefix (`encoder.layer.0.attention.self.query.weight`) and PyTorch layouts
(Linear weights `[out, in]`). TF checkpoints (`tf_model.h5`, or safetensors
saved by a TF model) are renamed with transformers' own TF->PyTorch rule.
"""

import json
import logging
import os

import numpy as np

from fastformers_tf.errors import UserError
from fastformers_tf.models.config import EncoderConfig

logger = logging.getLogger(__name__)

# Weight files in the order they are preferred.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "tf_model.h5", "pytorch_model.bin")

# Model prefixes that task checkpoints put before the encoder's names.
_PREFIXES = ("bert.", "roberta.", "mpnet.")

# Tensors a checkpoint may carry that the encoder has no use for: buffers and
# the heads of pretraining / task models.
_IGNORED = ("embeddings.position_ids", "cls.", "lm_head.", "classifier.", "qa_outputs.")


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be read or does not fit the model; names the file and tensor."""


def read_hf_config(checkpoint_dir):
    path = os.path.join(checkpoint_dir, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"No config.json in checkpoint directory {checkpoint_dir!r}.")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e


def find_weight_file(checkpoint_dir):
    for name in WEIGHT_FILES:
        path = os.path.join(checkpoint_dir, name)
        if os.path.isfile(path):
            return path
    raise CheckpointError(f"No weights in {checkpoint_dir!r}: expected one of {', '.join(WEIGHT_FILES)}.")


def _from_tf_names(tensors, path):
    from transformers.modeling_tf_pytorch_utils import TransposeType, convert_tf_weight_name_to_pt_weight_name

    out = {}
    for tf_name, array in tensors.items():
        name, transpose = convert_tf_weight_name_to_pt_weight_name(tf_name, tf_weight_shape=array.shape)
        if transpose not in (TransposeType.NO, TransposeType.SIMPLE):
            raise CheckpointError(f"{path}: tensor {tf_name!r} is a convolution kernel; not a BERT-style encoder.")
        out[name] = array.T if transpose == TransposeType.SIMPLE else array
    return out


def _read_safetensors(path):
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"Cannot read safetensors file {path}: {e} (truncated or corrupt download?)") from e
    return _from_tf_names(tensors, path) if metadata.get("format") == "tf" else tensors


def _read_tf_h5(path):
    import h5py

    tensors = {}
    try:
        with h5py.File(path, "r") as f:
            for layer_name in f.attrs["layer_names"]:
                group = f[layer_name]
                for weight_name in group.attrs["weight_names"]:
                    weight_name = weight_name.decode() if isinstance(weight_name, bytes) else weight_name
                    tensors[weight_name] = np.asarray(group[weight_name])
    except (OSError, KeyError) as e:
        raise CheckpointError(f"Cannot read TF checkpoint {path}: {e}") from e
    return _from_tf_names(tensors, path)


def _read_torch_bin(path):
    try:
        import torch
    except ImportError as e:
        raise CheckpointError(
            f"{path} is a PyTorch pickle and needs torch to read. Install torch, or convert the "
            "checkpoint to model.safetensors."
        ) from e
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {name: tensor.numpy() for name, tensor in state.items()}


def read_checkpoint(path):
    """Reads a weight file into `{pytorch_style_name: array}`."""
    if path.endswith(".index.json"):
        with open(path, encoding="utf-8") as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        tensors = {}
        for shard in shards:
            tensors.update(_read_safetensors(os.path.join(os.path.dirname(path), shard)))
        return tensors
    if path.endswith(".safetensors"):
        return _read_safetensors(path)
    if path.endswith(".h5"):
        return _read_tf_h5(path)
    if path.endswith(".bin"):
        return _read_torch_bin(path)
    raise CheckpointError(f"Unknown weight file type: {path}")


def _normalize_names(tensors):
    out = {}
    for name, array in tensors.items():
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        # Old BERT checkpoints name LayerNorm parameters gamma/beta.
        if ".LayerNorm." in name:
            name = name.replace(".gamma", ".weight").replace(".beta", ".bias")
        out[name] = array
    return out


def _dense(prefix, layer):
    return {f"{prefix}.weight": (layer.kernel, True), f"{prefix}.bias": (layer.bias, False)}


def _layer_norm(prefix, layer):
    return {f"{prefix}.weight": (layer.gamma, False), f"{prefix}.bias": (layer.beta, False)}


def hf_weight_map(encoder):
    """`{hf_name: (variable, transposed)}` for every weight of `encoder`."""
    family = encoder.config.family
    emb = encoder.embeddings
    names = {
        "embeddings.word_embeddings.weight": (emb.word_embeddings, False),
        "embeddings.position_embeddings.weight": (emb.position_embeddings, False),
        **_layer_norm("embeddings.LayerNorm", emb.layer_norm),
        **_dense("pooler.dense", encoder.pooler),
    }
    if emb.token_type_embeddings is not None:
        names["embeddings.token_type_embeddings.weight"] = (emb.token_type_embeddings, False)
    if encoder.position_bias_layer is not None:
        names["encoder.relative_attention_bias.weight"] = (encoder.position_bias_layer.embeddings, False)
    for i, layer in enumerate(encoder.transformer_layers):
        p = f"encoder.layer.{i}"
        att = layer.attention
        if family == "mpnet":
            q, k, v, o = (f"{p}.attention.attn.{n}" for n in "qkvo")
            norm = f"{p}.attention.LayerNorm"
        else:
            q, k, v = (f"{p}.attention.self.{n}" for n in ("query", "key", "value"))
            o, norm = f"{p}.attention.output.dense", f"{p}.attention.output.LayerNorm"
        for prefix, dense in ((q, att.query), (k, att.key), (v, att.value), (o, att.output_dense)):
            names.update(_dense(prefix, dense))
        names.update(_layer_norm(norm, layer.attention_norm))
        names.update(_dense(f"{p}.intermediate.dense", layer.intermediate))
        names.update(_dense(f"{p}.output.dense", layer.output_dense))
        names.update(_layer_norm(f"{p}.output.LayerNorm", layer.output_norm))
    return names


def load_hf_weights(encoder, weight_file):
    """Assigns the tensors of a Hugging Face weight file to `encoder`, strictly.

    Raises `CheckpointError` naming the file and tensor when a tensor is
    missing, unexpected or of the wrong shape. A missing pooler is allowed (as
    in transformers): it keeps its random initialization, with a warning.
    """
    tensors = _normalize_names(read_checkpoint(weight_file))
    targets = hf_weight_map(encoder)
    missing = [n for n in targets if n not in tensors and not n.startswith("pooler.")]
    if missing:
        raise CheckpointError(f"{weight_file} lacks tensors the model needs: {', '.join(missing)}")
    unexpected = [n for n in tensors if n not in targets and not n.startswith(_IGNORED)]
    if unexpected:
        raise CheckpointError(f"{weight_file} has tensors the model does not know: {', '.join(unexpected)}")
    if any(n.startswith("pooler.") and n not in tensors for n in targets):
        logger.warning("%s has no pooler weights; the pooler keeps its random initialization.", weight_file)
    for name, (variable, transposed) in targets.items():
        if name not in tensors:
            continue
        array = tensors[name].T if transposed else tensors[name]
        if tuple(array.shape) != tuple(variable.shape):
            expected = tuple(variable.shape)[::-1] if transposed else tuple(variable.shape)
            raise CheckpointError(
                f"{weight_file}: tensor {name!r} has shape {tuple(tensors[name].shape)}, the model expects {expected}."
            )
        variable.assign(array.astype(variable.dtype.as_numpy_dtype))
    return encoder


def hf_checkpoint_config(config):
    """The `config.json` of a Hugging Face checkpoint of an encoder with `config`; `CheckpointError` where none fits.

    Pruned heads are written as transformers' `pruned_heads` (each layer's
    last heads, since ours are already compacted to the front), which
    BERT and RoBERTa apply at load time. Hugging Face has one
    `intermediate_size` for all layers, so FFN sizes that differ between
    layers cannot be expressed, nor can pruned MPNet heads: transformers'
    MPNet adds its shared relative position bias for every head.
    """
    if len(set(config.intermediate_dim)) != 1:
        raise CheckpointError(
            f"A Hugging Face {config.family} config has one intermediate_size for all layers; this model has "
            f"intermediate_dim={config.intermediate_dim}. Keep it as a fastformers_tf model folder or an export "
            "(ONNX/TFLite), or prune FFN units uniformly."
        )
    full = config.hidden_dim // config.head_dim
    if config.head_dim * full != config.hidden_dim or max(config.num_heads) > full:
        raise CheckpointError(
            f"Hugging Face configs split hidden_size={config.hidden_dim} evenly into heads; head_dim={config.head_dim} "
            f"with num_heads={config.num_heads} does not."
        )
    # transformers cannot run a layer whose heads are all pruned: such a layer keeps one head of zero weights.
    pruned = {str(i): list(range(max(n, 1), full)) for i, n in enumerate(config.num_heads) if max(n, 1) < full}
    if pruned and config.family == "mpnet":
        raise CheckpointError(
            f"transformers' MPNet adds its shared relative position bias for all {full} heads, so it cannot run "
            f"pruned heads (num_heads={config.num_heads}); keep this model as a fastformers_tf folder or an export."
        )
    hf = config.to_hf(per_layer=True)  # with one FFN size, its sizes are transformers': only the heads differ
    hf.pop("fastformers_layers", None)
    if pruned:
        hf["pruned_heads"] = pruned
    return hf


def _zero_head_tensors(config):
    """For each layer without heads, one head whose query/key/value and output weights are zero.

    Its attention output is then the output bias alone, as in our layer with
    no heads; transformers needs at least one head per layer.
    """
    tensors = {}
    for i, heads in enumerate(config.num_heads):
        if heads:
            continue
        p = f"encoder.layer.{i}.attention"
        for name in ("query", "key", "value"):
            tensors[f"{p}.self.{name}.weight"] = np.zeros((config.head_dim, config.hidden_dim), np.float32)
            tensors[f"{p}.self.{name}.bias"] = np.zeros((config.head_dim,), np.float32)
        tensors[f"{p}.output.dense.weight"] = np.zeros((config.hidden_dim, config.head_dim), np.float32)
    return tensors


def save_hf_checkpoint(encoder, checkpoint_dir):
    """Writes `config.json` and a PyTorch-layout `model.safetensors` for transformers.

    Unpruned encoders, and pruned ones whose config Hugging Face can express
    (see `hf_checkpoint_config`; otherwise `CheckpointError`).
    """
    from safetensors.numpy import save_file

    hf_config = hf_checkpoint_config(encoder.config)
    os.makedirs(checkpoint_dir, exist_ok=True)
    with open(os.path.join(checkpoint_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(hf_config, f, indent=2)
    tensors = {
        name: np.ascontiguousarray(variable.numpy().T if transposed else variable.numpy())
        for name, (variable, transposed) in hf_weight_map(encoder).items()
    }
    tensors.update(_zero_head_tensors(encoder.config))
    save_file(tensors, os.path.join(checkpoint_dir, "model.safetensors"), metadata={"format": "pt"})
    return checkpoint_dir


def encoder_from_hf_checkpoint(checkpoint_dir, **overrides):
    """Builds a `TransformerEncoder` from a Hugging Face checkpoint directory.

    Args:
        checkpoint_dir: a folder with `config.json` and one of `WEIGHT_FILES`.
        **overrides: `TransformerEncoder` arguments that replace the config's
            (e.g. `activation="gelu_tflite"`, `output_hidden_states=True`).
    """
    from fastformers_tf.models.encoder import TransformerEncoder

    hf_config = read_hf_config(checkpoint_dir)
    weight_file = find_weight_file(checkpoint_dir)
    config_path = os.path.join(checkpoint_dir, "config.json")
    try:
        config = EncoderConfig.from_hf(hf_config).to_dict()
    except KeyError as e:
        raise CheckpointError(f"{config_path} has no field {e}.") from e
    except ValueError as e:
        raise CheckpointError(f"{config_path}: {e}") from e
    config.update(overrides)
    encoder = TransformerEncoder(**config)
    return load_hf_weights(encoder, weight_file)
