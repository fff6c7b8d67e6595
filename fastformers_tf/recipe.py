"""One config system: dataclasses + YAML, resolved in a fixed order.

    defaults (these dataclasses) -> configs/<task>.yaml -> --config_file -> --params_override

Each stage writes the resolved recipe next to its outputs (`recipe.yaml`).
OmegaConf does the merging and type checking: an unknown key or a value of
the wrong type is an error naming the key and the file it came from.
"""

import dataclasses
import os

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS_DIR = os.path.join(REPO_ROOT, "configs")


def default_data_dir():
    """`$FASTFORMERS_DATA_DIR`, else `../shared/data` beside the repository."""
    return os.environ.get("FASTFORMERS_DATA_DIR", os.path.join(os.path.dirname(REPO_ROOT), "shared", "data"))


@dataclasses.dataclass
class FinetuneConfig:
    """Teacher fine-tuning: AdamW with linear warmup then linear decay to 0."""

    epochs: int = 3
    learning_rate: float = 5e-5
    batch_size: int = 16
    eval_batch_size: int = 64
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    dropout: float = 0.1
    pooling: str = "pooler"
    max_train_examples: int = 0  # 0: all; else a seeded random subset
    bucket_window: int = 50  # batches per length-sorted window; 0 disables bucketing
    train_split: str = "train"
    eval_split: str = "val"


@dataclasses.dataclass
class Recipe:
    task: str = "rte"
    model: str = "all-MiniLM-L6-v2"
    data_dir: str = ""  # "" -> default_data_dir()
    output_dir: str = ""  # "" -> runs/<task>
    cache_dir: str = ""  # tokenized features; "" -> ~/.cache/fastformers_tf/features
    seed: int = 42
    finetune: FinetuneConfig = dataclasses.field(default_factory=FinetuneConfig)

    def resolved_data_dir(self):
        return self.data_dir or default_data_dir()

    def resolved_output_dir(self):
        return self.output_dir or os.path.join("runs", self.task)

    def resolved_cache_dir(self):
        default = os.path.join(os.path.expanduser("~"), ".cache", "fastformers_tf", "features")
        return self.cache_dir or default


def _layer(source, loader):
    try:
        return loader()
    except (OmegaConfBaseException, OSError, ValueError) as e:
        raise ValueError(f"Bad recipe from {source}: {e}") from e


def load_recipe(task=None, config_file=None, params_override=(), configs_dir=CONFIGS_DIR):
    """The resolved `Recipe`.

    Args:
        task: task name (the `--task` flag); a `task=` override wins over it.
        config_file: optional YAML file.
        params_override: dotted `key=value` strings, e.g. `["finetune.epochs=2"]`.
        configs_dir: where `<task>.yaml` recipes live.

    Example:
        >>> load_recipe("rte", params_override=["finetune.epochs=1"]).finetune.epochs
        1
    """
    overrides = _layer("--params_override", lambda: OmegaConf.from_dotlist(list(params_override)))
    from_file = _layer(config_file, lambda: OmegaConf.load(config_file)) if config_file else OmegaConf.create()
    task = overrides.get("task") or from_file.get("task") or task or Recipe.task
    sources = [("defaults", OmegaConf.structured(Recipe)), ("--task", OmegaConf.create({"task": task}))]
    task_file = os.path.join(configs_dir, f"{task}.yaml")
    if os.path.isfile(task_file):
        sources.append((task_file, _layer(task_file, lambda: OmegaConf.load(task_file))))
    sources += [(config_file, from_file), ("--params_override", overrides)]
    merged = sources[0][1]
    for source, layer in sources[1:]:
        merged = _layer(source, lambda: OmegaConf.merge(merged, layer))  # noqa: B023  (called at once)
    return OmegaConf.to_object(merged)


def save_recipe(recipe, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    OmegaConf.save(OmegaConf.structured(recipe), path)
    return path
