"""One config system: dataclasses + YAML, resolved in a fixed order.

    defaults (these dataclasses) -> configs/<task>.yaml -> [configs/presets/<preset>.yaml] -> --config_file
        -> --params_override

Each stage writes the resolved recipe next to its outputs (`recipe.yaml`).
OmegaConf does the merging and type checking: an unknown key or a value of
the wrong type is an error naming the key and the file it came from.
"""

import dataclasses
import os
import typing

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fastformers_tf.cascade.names import CONFIDENCES, RULES
from fastformers_tf.compress.stages import OPT_IN_STAGES, STAGES  # the stage table
from fastformers_tf.errors import UserError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS_DIR = os.path.join(REPO_ROOT, "configs")


def default_data_dir():
    """`$FASTFORMERS_DATA_DIR`, else `../shared/data` beside the repository."""
    return os.environ.get("FASTFORMERS_DATA_DIR", os.path.join(os.path.dirname(REPO_ROOT), "shared", "data"))


@dataclasses.dataclass
class HoldoutConfig:
    """A labeled split carved from `split` (train), read as split "holdout" by every stage (`data.holdout`).

    Set `examples` (a count) or `fraction` (of the split); both 0: no hold-out.
    Stratified by label and seeded by `seed` (not the recipe's seed: runs of
    several seeds share one hold-out). Every training stage then reads train
    without it (and, for SST-2, without each phrase inside a held-out
    sentence); the best epochs and the pick are made on it.
    """

    examples: int = 0
    fraction: float = 0.0
    seed: int = 0
    split: str = "train"


@dataclasses.dataclass
class TrainingConfig:
    """What every training stage shares: AdamW with linear warmup then linear decay to 0, evaluated every epoch."""

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
    evals_per_epoch: int = 1  # evaluations on eval_split per epoch (the best one kept)
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-6
    bucket_window: int = 50  # batches per length-sorted window; 0 disables bucketing
    train_split: str = "train"
    eval_split: str = "val"


@dataclasses.dataclass
class FinetuneConfig(TrainingConfig):
    """Teacher fine-tuning.

    `reinit_layers`: the top N encoder layers start from fresh weights (Zhang
    et al. 2021). `seeds`: one run per seed, each in `seeds/<seed>/`, the best
    on `eval_split` kept as `best/` and every run's metric reported.
    """

    reinit_layers: int = 0
    seeds: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class DistillConfig(TrainingConfig):
    """Task distillation (FastFormers: soft labels only, T=1, alpha=0); see `fastformers_tf.distill`.

    The student is `student` (a packaged name, checkpoint or model folder), cut
    to `keep_layers` and/or re-shaped by `num_layers`/`hidden_dim`/`num_heads`/
    `intermediate_dim` (0: as in `student`), with `activation` swapped ("": keep).
    The transfer set is the train split plus `transfer` sources: `split:NAME`
    (a split of the task, labeled or not), `file:PATH` (text lines or JSONL with
    `text`/`text_a` and optional `text_b`), `augment:N[:drop|neighbors]` (N
    seeded copies of each train example: words dropped and swapped, or
    replaced with probability `replace_p` by one of their `neighbor_k` nearest
    words in the teacher's embeddings) and `pairs:N` (pairs recombined); the
    teacher labels all of them.
    With `quantize_aware`, the student trains through 8-bit fake quantization
    of its GEMMs (`fastformers_tf.quantize`; ranges calibrated on the first
    `calibration_batches` training batches): export it with `--int8_mode=qat`.
    """

    # A fine-tuned task model folder (required), or a list of them: an ensemble, their logits averaged.
    teacher: typing.Any = ""
    student: str = "all-MiniLM-L6-v2"  # or "teacher": the teacher's folder
    keep_layers: list = dataclasses.field(default_factory=list)
    num_layers: int = 0
    hidden_dim: int = 0
    num_heads: int = 0
    intermediate_dim: int = 0
    activation: str = ""
    pooling: str = "mean"  # of a new head (a student that is already a task model keeps its own)
    temperature: float = 1.0
    alpha: float = 0.0
    hidden_weight: float = 0.0  # hidden-state loss weight (same tokenizer only)
    attention_weight: float = 0.0  # attention-probability loss weight (same tokenizer only)
    hidden_loss: str = "mse"
    attention_loss: str = "kl"
    layer_map: list = dataclasses.field(default_factory=list)  # student layer i -> teacher layer; []: uniform
    # TinyBERT's two stages: first this many epochs of the hidden-state and attention losses alone (the teacher in
    # the loop), then `epochs` of logits alone (cached teacher logits). 0: one stage, every weighted loss together.
    layerwise_epochs: int = 0
    transfer: list = dataclasses.field(default_factory=list)
    replace_p: float = 0.4  # augment:N:neighbors: the chance that a word is replaced
    neighbor_k: int = 15  # augment:N:neighbors: a word's replacements, its k nearest words
    quantize_aware: bool = False
    calibration_batches: int = 8
    batch_size: int = 32


@dataclasses.dataclass
class PruneConfig:
    """Structured pruning of a task model; see `fastformers_tf.prune`.

    Targets (0: not pruned): `target_heads`/`target_ffn` a fraction in (0, 1]
    of all heads/units or a whole number > 1 per layer; `target_params` a
    fraction or count of the Transformer layers' parameters (sets both).
    Scores come from `score_examples` examples of `score_split` (the KL to the
    teacher's logits, or the gold labels); scoring on `distill.eval_split` is
    refused unless `allow_eval_scoring` (then the report says so). The pruned
    model is re-distilled from `teacher` ("": the unpruned model) for
    `redistill_epochs` with the `distill` section's settings.
    """

    model: str = ""  # the task model folder to prune (required)
    teacher: str = ""
    target_heads: float = 0.0
    target_ffn: float = 0.0
    target_params: float = 0.0
    allocation: str = "uniform"
    multiple_of: int = 1
    min_heads: int = 0
    iterations: int = 1
    step_redistill_epochs: int = 0  # between iterative steps
    redistill_epochs: int = 1  # 0: no re-distillation
    score_split: str = "train"
    score_examples: int = 2000  # 0: the whole split
    score_loss: str = "teacher"
    allow_eval_scoring: bool = False
    normalize_heads: bool = True
    batch_size: int = 32
    sweep: list = dataclasses.field(default_factory=list)  # target_params fractions for a sweep


@dataclasses.dataclass
class CompressConfig:
    """The whole recipe as one job (`fastformers_tf.compress`, `tools/compress.py`).

    Stages, each in its own folder under the work directory: `teacher`
    (fine-tunes `model` with the `finetune` section, unless `teacher` names a
    fine-tuned task model folder), `distill` (the `distill` section), `prune`
    (the `prune` section, re-distilled; `prune_target_params` when the section
    sets no target), `qat` (opt-in: the last model distilled again for
    `qat_epochs` through 8-bit fake quantization, `distill.quantize_aware`;
    its INT8 files come from that), `export` (fused fp32, INT8, FP16 ONNX
    and TFLite of each model), `benchmark` (every candidate timed side by side
    on `report_split`, the paper's Table 3) and `select` (the fastest candidate
    within `max_accuracy_drop` points of the teacher on `selection_split`;
    with `retime_rounds`, the baseline, the two fastest within budget and the
    fastest single model within budget are timed again in that many
    alternating rounds, and the pick and its speed-ups come from those).
    With `cascades`, each student and the teacher, both served as one of
    `cascade_backends`, also make a cascade candidate (one per backend): the
    student answers and the teacher takes the texts whose
    `cascade_confidence` is below a threshold set on `selection_split` (the
    fewest texts for the teacher within the budget; with `cascade_rule`
    "stable", also within it at every higher threshold), timed like every
    other candidate.
    """

    teacher: str = ""  # a fine-tuned task model folder; "": fine-tune `model` here
    # Students distilled elsewhere (tools/distill.py), name -> model folder: exported, timed and made into
    # cascades with the teacher beside the job's own models.
    students: dict[str, str] = dataclasses.field(default_factory=dict)
    prune_target_params: float = 0.5  # the prune stage's target when the `prune` section sets none
    stages: list = dataclasses.field(default_factory=lambda: [s for s in STAGES if s not in OPT_IN_STAGES])
    qat_epochs: int = 1  # the qat stage: quantization-aware distillation epochs of the last model
    qat_learning_rate: float = 1e-5
    report_split: str = ""  # "": distill.eval_split
    selection_split: str = ""  # "": report_split (the report then says the pick saw it)
    max_accuracy_drop: float = 1.0  # points of the task's main metric, vs the teacher
    backends: list = dataclasses.field(default_factory=lambda: list(CANDIDATE_BACKENDS))
    instances: list = dataclasses.field(default_factory=lambda: [1, 0])  # 0: one per physical core
    threads: int = 0  # cores the benchmark uses; 0: all physical cores
    bench_examples: int = 0  # 0: the whole split; else its first N
    bench_rounds: int = 1  # each candidate's split time is the median over this many turns
    retime_rounds: int = 5  # then the baseline and the leaders within budget again, alternating; 0: not
    throughput_batch: int = 32
    cascades: bool = True
    # Each of these also in `backends` (the export writes no other files) makes a cascade candidate of every student
    # and the teacher, both stages in it, its threshold set on its own outputs (an INT8 teacher that loses accuracy
    # leaves its cascade less room).
    cascade_backends: list = dataclasses.field(default_factory=lambda: list(CASCADE_BACKENDS))
    cascade_confidence: str = CONFIDENCES[0]  # see `fastformers_tf.cascade.names`
    cascade_rule: str = RULES[0]  # see `fastformers_tf.cascade.thresholds.within_budget`
    price_per_hour: float = 0.085  # US$; AWS c6i.large on-demand, Linux, us-east-1
    instance_cores: int = 2  # the priced instance's vCPUs (c6i.large: 2)
    instance_name: str = "AWS c6i.large (2 vCPUs), on-demand Linux, us-east-1"


CANDIDATE_BACKENDS = ("keras/fp32", "onnx/fp32", "onnx/int8", "tflite/fp32", "tflite/int8")
CASCADE_BACKENDS = ("onnx/int8", "tflite/int8")  # the default; any exported backend but Keras may serve one


STRATEGIES = ("default", "mirrored", "multi_worker")


@dataclasses.dataclass
class Recipe:
    task: str = "rte"
    model: str = "all-MiniLM-L6-v2"
    data_dir: str = ""  # "" -> default_data_dir()
    output_dir: str = ""  # "" -> runs/<task>
    cache_dir: str = ""  # tokenized features; "" -> ~/.cache/fastformers_tf/features
    seed: int = 42
    # tf.distribute for fine-tuning and distillation: default | mirrored | multi_worker (TF_CONFIG).
    # Batch sizes are global, whatever the number of replicas.
    strategy: str = "default"
    holdout: HoldoutConfig = dataclasses.field(default_factory=HoldoutConfig)
    finetune: FinetuneConfig = dataclasses.field(default_factory=FinetuneConfig)
    distill: DistillConfig = dataclasses.field(default_factory=DistillConfig)
    prune: PruneConfig = dataclasses.field(default_factory=PruneConfig)
    compress: CompressConfig = dataclasses.field(default_factory=CompressConfig)

    def resolved_data_dir(self):
        return self.data_dir or default_data_dir()

    def holdout_spec(self):
        """The `HoldoutSpec` every stage's `TaskData` is given, or None when the recipe carves no hold-out."""
        from fastformers_tf.data.holdout import HoldoutSpec

        return HoldoutSpec.of(self.holdout)

    def resolved_output_dir(self):
        return self.output_dir or os.path.join("runs", self.task)

    def resolved_cache_dir(self):
        default = os.path.join(os.path.expanduser("~"), ".cache", "fastformers_tf", "features")
        return self.cache_dir or default


class RecipeError(UserError, ValueError):
    """A recipe that cannot be read, or holds a value out of range; names the key and where it came from."""


def _transfer_source(spec):
    from fastformers_tf.distill.transfer import parse  # numpy only: no TensorFlow

    try:
        return bool(parse(spec))
    except UserError:
        return False


# key -> (test, what it must be); checked on the resolved recipe, before any stage writes anything.
_TRAINING_RANGES = {
    "epochs": (lambda v: v >= 1, ">= 1"),
    "learning_rate": (lambda v: v > 0, "> 0"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "eval_batch_size": (lambda v: v >= 1, ">= 1"),
    "max_length": (lambda v: v >= 2, ">= 2 (room for the special tokens)"),
    "warmup_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "weight_decay": (lambda v: v >= 0, ">= 0"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "pooling": (lambda v: v in ("pooler", "cls", "mean"), "one of pooler, cls, mean"),
    "max_train_examples": (lambda v: v >= 0, ">= 0 (0: all)"),
    "evals_per_epoch": (lambda v: v >= 1, ">= 1"),
    "adam_beta1": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "adam_beta2": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "adam_epsilon": (lambda v: v > 0, "> 0"),
    "bucket_window": (lambda v: v >= 0, ">= 0 (0: no bucketing)"),
}
_RANGES = {
    "seed": (lambda v: v >= 0, ">= 0"),
    "strategy": (lambda v: v in STRATEGIES, f"one of {', '.join(STRATEGIES)}"),
    "holdout.examples": (lambda v: v >= 0, ">= 0 (0: no hold-out unless holdout.fraction)"),
    "holdout.fraction": (lambda v: 0 <= v < 1, "in [0, 1) (0: no hold-out unless holdout.examples)"),
    "holdout.seed": (lambda v: v >= 0, ">= 0"),
    "finetune.reinit_layers": (lambda v: v >= 0, ">= 0"),
    "finetune.seeds": (
        lambda v: all(isinstance(s, int) and s >= 0 for s in v) and len(set(v)) == len(v),
        "a list of distinct seeds >= 0",
    ),
    **{f"{stage}.{key}": check for stage in ("finetune", "distill") for key, check in _TRAINING_RANGES.items()},
    "distill.teacher": (
        lambda v: isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(t, str) and t for t in v)),
        "a model folder or a non-empty list of them (an ensemble)",
    ),
    "distill.keep_layers": (lambda v: all(isinstance(i, int) and i >= 0 for i in v), "a list of layer indices >= 0"),
    "distill.num_layers": (lambda v: v >= 0, ">= 0 (0: as the student model)"),
    "distill.hidden_dim": (lambda v: v >= 0, ">= 0 (0: as the student model)"),
    "distill.num_heads": (lambda v: v >= 0, ">= 0 (0: as the student model)"),
    "distill.intermediate_dim": (lambda v: v >= 0, ">= 0 (0: as the student model)"),
    "distill.activation": (lambda v: v in ("", "relu", "gelu", "gelu_tanh"), "one of '', relu, gelu, gelu_tanh"),
    "distill.temperature": (lambda v: v > 0, "> 0"),
    "distill.alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "distill.hidden_weight": (lambda v: v >= 0, ">= 0"),
    "distill.attention_weight": (lambda v: v >= 0, ">= 0"),
    "distill.hidden_loss": (lambda v: v in ("mse", "cosine"), "one of mse, cosine"),
    "distill.attention_loss": (lambda v: v in ("kl", "mse"), "one of kl, mse"),
    "distill.replace_p": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "distill.layerwise_epochs": (lambda v: v >= 0, ">= 0 (0: one stage)"),
    "distill.neighbor_k": (lambda v: v >= 1, ">= 1"),
    "distill.transfer": (
        lambda v: all(_transfer_source(str(s)) for s in v),
        "a list of split:NAME, file:PATH, augment:N[:drop|neighbors] or pairs:N",
    ),
    **{
        f"prune.target_{kind}": (
            lambda v: v >= 0 and (v <= 1 or v == int(v)),
            "0 (keep all), a fraction in (0, 1] or a whole number per layer",
        )
        for kind in ("heads", "ffn")
    },
    "prune.target_params": (
        lambda v: v >= 0 and (v <= 1 or v == int(v)),
        "0 (none), a fraction in (0, 1] or a whole number of parameters",
    ),
    "prune.allocation": (lambda v: v in ("uniform", "global"), "one of uniform, global"),
    "prune.multiple_of": (lambda v: v >= 1, ">= 1"),
    "prune.min_heads": (lambda v: v >= 0, ">= 0"),
    "prune.iterations": (lambda v: v >= 1, ">= 1"),
    "prune.step_redistill_epochs": (lambda v: v >= 0, ">= 0"),
    "prune.redistill_epochs": (lambda v: v >= 0, ">= 0 (0: no re-distillation)"),
    "prune.score_examples": (lambda v: v >= 0, ">= 0 (0: the whole split)"),
    "prune.score_loss": (lambda v: v in ("teacher", "gold"), "one of teacher, gold"),
    "prune.batch_size": (lambda v: v >= 1, ">= 1"),
    "prune.sweep": (lambda v: all(0 < float(f) <= 1 for f in v), "a list of fractions in (0, 1]"),
    "compress.stages": (lambda v: v and all(s in STAGES for s in v), f"a non-empty list of {', '.join(STAGES)}"),
    "compress.max_accuracy_drop": (lambda v: v >= 0, ">= 0 (points)"),
    "compress.prune_target_params": (
        lambda v: v > 0 and (v <= 1 or v == int(v)),
        "a fraction in (0, 1] or a whole number of parameters",
    ),
    "compress.backends": (
        lambda v: v and all(b in CANDIDATE_BACKENDS for b in v),
        f"a non-empty list of {', '.join(CANDIDATE_BACKENDS)}",
    ),
    "compress.instances": (lambda v: v and all(isinstance(n, int) and n >= 0 for n in v), "a list of counts >= 0"),
    "compress.threads": (lambda v: v >= 0, ">= 0 (0: all physical cores)"),
    "compress.bench_examples": (lambda v: v >= 0, ">= 0 (0: the whole split)"),
    "compress.bench_rounds": (lambda v: v >= 1, ">= 1"),
    "compress.retime_rounds": (lambda v: v >= 0, ">= 0"),
    "compress.throughput_batch": (lambda v: v >= 1, ">= 1"),
    "compress.cascade_backends": (
        lambda v: all(b in CANDIDATE_BACKENDS and b != "keras/fp32" for b in v),
        "a list of ONNX or TFLite backend/precisions such as onnx/int8",
    ),
    "compress.cascade_confidence": (lambda v: v in CONFIDENCES, " or ".join(CONFIDENCES)),
    "compress.cascade_rule": (lambda v: v in RULES, " or ".join(RULES)),
    "compress.price_per_hour": (lambda v: v > 0, "> 0 (US$)"),
    "compress.instance_cores": (lambda v: v >= 1, ">= 1"),
}


def validate(recipe, sources="the recipe"):
    """Raises `RecipeError` naming the first key whose value is out of range; returns `recipe`."""
    for key, (test, expected) in _RANGES.items():
        value = recipe
        for part in key.split("."):
            value = getattr(value, part)
        if not test(value):
            raise RecipeError(f"{key}={value!r} in {sources}: it must be {expected}.")
    if recipe.holdout.examples and recipe.holdout.fraction:
        raise RecipeError(f"holdout.examples and holdout.fraction are both set in {sources}: set one.")
    d = recipe.distill
    if d.layerwise_epochs and not (d.hidden_weight > 0 or d.attention_weight > 0):
        raise RecipeError(
            f"distill.layerwise_epochs={d.layerwise_epochs} in {sources}, but its stage has no loss: "
            "set distill.hidden_weight and/or distill.attention_weight > 0."
        )
    if not (recipe.holdout.examples or recipe.holdout.fraction):
        for key in HOLDOUT_READERS:
            section, name = key.split(".")
            if getattr(getattr(recipe, section), name) == "holdout":
                raise RecipeError(
                    f"{key}=holdout in {sources}, but no hold-out is carved: set holdout.examples or holdout.fraction."
                )
    return recipe


# The recipe keys that may name the hold-out as their split.
HOLDOUT_READERS = (
    "finetune.eval_split",
    "distill.eval_split",
    "prune.score_split",
    "compress.report_split",
    "compress.selection_split",
)


def _layer(source, loader):
    try:
        return loader()
    except (OmegaConfBaseException, OSError, ValueError) as e:
        raise RecipeError(f"Bad recipe from {source}: {e}") from e


def _renamed(layer):
    """`layer` with keys of earlier versions under their names now, so saved recipes still load.

    `compress.cascade_backend: X` (one backend) is `compress.cascade_backends: [X]`.
    """
    compress = layer.get("compress")
    if compress is not None and "cascade_backend" in compress:
        compress["cascade_backends"] = [compress.pop("cascade_backend")]
    return layer


def recipe_beside(model):
    """The recipe saved beside a model or export folder (or in the folder of an exported file), else None."""
    folder = os.path.dirname(os.path.abspath(model)) if os.path.isfile(model) else model
    path = os.path.join(folder, "recipe.yaml")
    return load_recipe(config_file=path) if os.path.isfile(path) else None


def shared_holdout(models, split):
    """The hold-out spec the training recipes saved beside `models` carve, or None where they carve none.

    Several models scored on `split="holdout"` must be scored on one hold-out:
    each must carry its recipe, and all must carve the same one.
    """
    specs = set()
    for model in models:
        recipe = recipe_beside(model)
        specs.add(None if recipe is None else recipe.holdout_spec())
    if split == "holdout" and (len(specs) > 1 or None in specs):
        raise RecipeError(
            "split=holdout: every model must carry the recipe it was trained with (recipe.yaml), all with one "
            f"hold-out; {', '.join(models)} carry {len(specs - {None})} hold-out(s)"
            + (" and some none" if None in specs else "")
            + "."
        )
    return specs.pop() if len(specs) == 1 else None


def presets(configs_dir=CONFIGS_DIR):
    """The names of the preset recipes in `configs/presets/` (e.g. "quick")."""
    folder = os.path.join(configs_dir, "presets")
    return sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".yaml")) if os.path.isdir(folder) else []


def load_recipe(task=None, config_file=None, params_override=(), configs_dir=CONFIGS_DIR, preset=None):
    """The resolved `Recipe`.

    Args:
        task: task name (the `--task` flag); a `task=` override wins over it.
        config_file: optional YAML file.
        params_override: dotted `key=value` strings, e.g. `["finetune.epochs=2"]`.
        configs_dir: where `<task>.yaml` recipes live.
        preset: a recipe in `configs/presets/` applied after `<task>.yaml`, e.g. "quick".

    Example:
        >>> load_recipe("rte", params_override=["finetune.epochs=1"]).finetune.epochs
        1
    """
    overrides = _layer("--params_override", lambda: _renamed(OmegaConf.from_dotlist(list(params_override))))
    from_file = OmegaConf.create()
    if config_file:
        from_file = _layer(config_file, lambda: _renamed(OmegaConf.load(config_file)))
    task = overrides.get("task") or from_file.get("task") or task or Recipe.task
    sources = [("defaults", OmegaConf.structured(Recipe)), ("--task", OmegaConf.create({"task": task}))]
    task_file = os.path.join(configs_dir, f"{task}.yaml")
    if os.path.isfile(task_file):
        sources.append((task_file, _layer(task_file, lambda: OmegaConf.load(task_file))))
    if preset:
        preset_file = os.path.join(configs_dir, "presets", f"{preset}.yaml")
        if not os.path.isfile(preset_file):
            raise RecipeError(f"--preset={preset}: no {preset_file}; presets: {', '.join(presets(configs_dir))}.")
        sources.append((preset_file, _layer(preset_file, lambda: OmegaConf.load(preset_file))))
    sources += [(config_file, from_file), ("--params_override", overrides)]
    merged = sources[0][1]
    for source, layer in sources[1:]:
        merged = _layer(source, lambda: OmegaConf.merge(merged, layer))  # noqa: B023  (called at once)
    named = ", ".join(str(source) for source, _ in sources[2:] if source)
    return validate(OmegaConf.to_object(merged), f"the recipe (defaults, {named})")


def recipe_yaml(recipe):
    """The resolved recipe as YAML text, as `recipe.yaml` files hold it."""
    return OmegaConf.to_yaml(OmegaConf.structured(recipe))


def save_recipe(recipe, path):
    """Writes `recipe.yaml` atomically; returns the path."""
    from fastformers_tf.artifacts import write_text

    return write_text(path, recipe_yaml(recipe))
