"""`distill(recipe)`: the distillation stage, laid out like fine-tuning.

Writes to the output directory: `best/` (the best student by the task's main
metric on `distill.eval_split`, a plain task model with its tokenizer and the
recipe, replaced atomically at each new best), `logs/` (TensorBoard), and at
the end `recipe.yaml` and `metrics.json` (teacher and student metrics, each
transfer source's size, teacher accuracy and student agreement, per-epoch
time, whether the teacher logits came from the cache). The recipe, teacher,
student and data are all checked before anything is written.
"""

import json
import logging
import os
import shutil
import time

import numpy as np

from fastformers_tf.backend import keras, tf
from fastformers_tf.data import get_task
from fastformers_tf.distill import students, transfer
from fastformers_tf.distill.augment import NeighborTable, words_of
from fastformers_tf.distill.cache import teacher_logits
from fastformers_tf.distill.distiller import TEACHER_LOGITS, Distiller
from fastformers_tf.errors import ArgumentError
from fastformers_tf.models.encoder import encoder_of
from fastformers_tf.models.pretrained import from_pretrained, load_tokenizer
from fastformers_tf.models.task_model import TaskModel
from fastformers_tf.quantize.qat import is_quantized
from fastformers_tf.recipe import RecipeError, save_recipe, validate
from fastformers_tf.train.distribute import best_folder, distributed, is_chief, make_strategy
from fastformers_tf.train.finetune import KeepBest, resume_folder
from fastformers_tf.train.optim import adamw_of
from fastformers_tf.train.resume import StepBar, fit_keeping_best, plan_steps, run_key
from fastformers_tf.train.tasks import TaskData, build_task_model

logger = logging.getLogger(__name__)


def load_teacher(path, task, flag="--teacher"):
    """The fine-tuned task model at `path` (given by `flag`), checked against `task`'s labels."""
    model = from_pretrained(path)
    if not isinstance(model, TaskModel):
        raise ArgumentError(
            f"{flag}={path} holds a {type(model).__name__}, not a fine-tuned task model: "
            "fine-tune one first (tools/finetune.py) and pass its best/ folder."
        )
    labels = list(model.labels or [])
    if labels and not task.has_labels(labels) or model.output.shape[-1] != len(task.labels):
        raise ArgumentError(
            f"{flag}={path} has {model.output.shape[-1]} labels {labels}; task {task.name} has "
            f"{len(task.labels)} {list(task.labels)}."
        )
    return model


def build_student(cfg, task, seed=0):
    """`(student task model, tokenizer, how it was made)` from the recipe's `distill` section.

    A `student` of "teacher" is the teacher's own folder (cut by `keep_layers`, say).
    """
    source = teacher_folders(cfg)[0] if cfg.student == "teacher" else cfg.student
    tokenizer = load_tokenizer(source)
    model = from_pretrained(source)
    encoder = encoder_of(model)
    made = {"from": source}
    if cfg.keep_layers:
        encoder = students.keep_layers(encoder, cfg.keep_layers)
        made["keep_layers"] = list(cfg.keep_layers)
    if cfg.num_layers or cfg.hidden_dim or cfg.num_heads or cfg.intermediate_dim:
        encoder, made["init"] = students.reshape(
            encoder, cfg.num_layers, cfg.hidden_dim, cfg.num_heads, cfg.intermediate_dim, seed=seed
        )
    encoder = students.with_activation(encoder, cfg.activation)
    encoder = encoder.with_options(dropout=cfg.dropout, attention_dropout=cfg.dropout)
    if isinstance(model, TaskModel) and "init" not in made:
        student = model.with_encoder(encoder)  # a fine-tuned student (the teacher cut to fewer layers) keeps its head
    else:
        student = build_task_model(task, encoder, cfg.dropout, cfg.pooling)
    c = encoder.config
    made.update(
        layers=c.num_layers,
        hidden_dim=c.hidden_dim,
        heads=c.num_heads,
        ffn=c.intermediate_dim,
        activation=c.activation,
        parameters=int(student.count_params()),
    )
    return student, tokenizer, made


def teacher_folders(cfg):
    """The teacher folders of a `distill` section: one, or the members of an ensemble (`distill.teacher` a list)."""
    return [cfg.teacher] if isinstance(cfg.teacher, str) else [str(t) for t in cfg.teacher]


def same_tokenizer(a, b):
    return type(a).__name__ == type(b).__name__ and a.get_vocab() == b.get_vocab()


def _check_length(name, model, max_length):
    limit = encoder_of(model).config.max_tokens
    if max_length > limit:
        raise RecipeError(f"distill.max_length={max_length} exceeds the {limit} tokens {name}'s position table covers.")


def _source_record(source, logits, cached, seconds):
    """What metrics.json says of one transfer source (its student agreement is added after training)."""
    record = {
        "source": source.name,
        "examples": len(source.examples),
        "teacher_logits_cached": cached,
        "teacher_s": seconds,
    }
    if source.dropped:
        record["dropped_in_holdout"] = source.dropped
    if source.seconds:
        record["made_s"] = source.seconds
    if source.labeled:
        gold = np.array([e.label for e in source.examples])
        record["teacher_accuracy"] = float(np.mean(np.argmax(logits, -1) == gold))
    return record


def _quantized(student, data, cfg, strategy):
    """The student with fake-quantized GEMMs, ranges calibrated on training batches; and what metrics.json says."""
    from fastformers_tf.quantize import quantize_model

    if is_quantized(student):  # a quantization-aware student trained further keeps its ranges
        return student, {"calibration_batches": 0}
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))[: cfg.calibration_batches * cfg.batch_size]
    batches = [data.batch_inputs(student, order[i : i + cfg.batch_size]) for i in range(0, len(order), cfg.batch_size)]
    with strategy.scope():
        student = quantize_model(student, batches)
    return student, {"calibration_batches": len(batches)}


def _agreement(student, data, teacher_argmax, batch_size):
    probs = data.predict_probs(student, batch_size, progress=False)
    return float(np.mean(np.argmax(probs, -1) == teacher_argmax))


def _check_teachers(cfg, members, student, student_tokenizer):
    """`(teacher tokenizer, shared with the student?, intermediate losses?)`; refuses what cannot be distilled."""
    folders = teacher_folders(cfg)
    teacher_tokenizer = load_tokenizer(folders[0])
    for folder in folders[1:]:
        if not same_tokenizer(load_tokenizer(folder), teacher_tokenizer):
            raise ArgumentError(
                f"distill.teacher: {folder} and {folders[0]} use different tokenizers; an ensemble shares one."
            )
    shared_tokenizer = same_tokenizer(teacher_tokenizer, student_tokenizer)
    intermediate = cfg.hidden_weight > 0 or cfg.attention_weight > 0
    if intermediate and len(folders) > 1:
        raise ArgumentError(
            "distill.hidden_weight/attention_weight need one teacher's layers; an ensemble teacher "
            "gives logits only: set both to 0 or name one teacher."
        )
    if intermediate and not shared_tokenizer:
        raise ArgumentError(
            f"distill.hidden_weight/attention_weight compare tokens, but teacher {cfg.teacher} and student "
            f"{cfg.student} use different tokenizers; set both to 0 to distill logits only."
        )
    for folder, member in zip(folders, members, strict=True):
        _check_length(f"--teacher={folder}", member, cfg.max_length)
    _check_length(f"--student={cfg.student}", student, cfg.max_length)
    return teacher_tokenizer, shared_tokenizer, intermediate


def _transfer_data(recipe, task, student_tokenizer, teacher_tokenizer=None, neighbor_table=None):
    """`(train, evals, sources, sides, teacher_evals)`: the splits and transfer sources, tokenized for both sides.

    `sides` holds `(student data, teacher data)` per source; with
    `teacher_tokenizer` None the teacher shares the student's tokenizer (and
    data). `neighbor_table(examples)` serves `augment:N:neighbors`.
    """
    cfg, data_dir, cache_dir = recipe.distill, recipe.resolved_data_dir(), recipe.resolved_cache_dir()

    def read(split, tokenizer, **subset):
        return TaskData.read(
            task, split, data_dir, tokenizer, cfg.max_length, cache_dir, holdout=recipe.holdout_spec(), **subset
        )

    train = read(cfg.train_split, student_tokenizer, max_examples=cfg.max_train_examples, seed=recipe.seed)
    evals = read(cfg.eval_split, student_tokenizer)
    found = transfer.sources(
        task,
        (train.split, train.examples, train.path, train.key),
        cfg.transfer,
        cfg.eval_split,
        data_dir,
        recipe.seed,
        neighbor_table,
        cfg.replace_p,
    )
    found = [found[0], *(transfer.without_holdout(source, train) for source in found[1:])]

    def both_sides(source):
        args = (task, source.key, source.path, source.examples)
        student_side = (
            train
            if source.name == "train"
            else TaskData.of_examples(*args, student_tokenizer, cfg.max_length, cache_dir, source.key)
        )
        if teacher_tokenizer is None:
            return student_side, student_side
        return student_side, TaskData.of_examples(*args, teacher_tokenizer, cfg.max_length, cache_dir, source.key)

    sides = [both_sides(source) for source in found]
    teacher_evals = evals if teacher_tokenizer is None else read(cfg.eval_split, teacher_tokenizer)
    return train, evals, found, sides, teacher_evals


def _label_by_teacher(cfg, task, members, tokenizer, found, sides, evals, cache_dir, verbose):
    """`(per-source records, logits per source, teacher metrics on evals, ensemble record or None)`.

    An ensemble's logits are its members' averaged, each member's cached
    under `<cache_dir>/teacher_logits` (nothing else is written here).
    """
    logits_dir = os.path.join(cache_dir, "teacher_logits")
    member_logits = {}

    def labeled(data):
        start = time.time()
        each = [
            teacher_logits(member, tokenizer, data, cfg.max_length, cfg.eval_batch_size, logits_dir, verbose > 0)
            for member in members
        ]
        member_logits[data.key] = [logits for logits, _ in each]
        logits = np.mean(member_logits[data.key], axis=0).astype(np.float32)
        return logits, all(cached for _, cached in each), round(time.time() - start, 1)

    per_source, all_logits = [], []
    for source, (_, teacher_side) in zip(found, sides, strict=True):
        logits, cached, seconds = labeled(teacher_side)
        per_source.append(_source_record(source, logits, cached, seconds))
        all_logits.append(logits)
    eval_logits, cached, seconds = labeled(evals)
    teacher_metrics = task.metric(evals.examples, tf.nn.softmax(eval_logits).numpy())
    ensemble = None
    if len(members) > 1:
        scored = [task.metric(evals.examples, tf.nn.softmax(logits).numpy()) for logits in member_logits[evals.key]]
        ensemble = {"members": teacher_folders(cfg), "member_metrics": scored}
        print(f"ensemble of {len(members)} teachers; each alone on {cfg.eval_split}: {ensemble['member_metrics']}")
    print(
        f"teacher {cfg.teacher}: {task.name}/{cfg.eval_split} {teacher_metrics} "
        f"({'cached logits' if cached else f'{seconds:.0f} s'})"
    )
    return per_source, all_logits, teacher_metrics, ensemble


def _distiller(cfg, teacher, student, total_steps, intermediate=True, logit_weight=1.0):
    """A compiled `Distiller` of the `distill` section (`intermediate` False: logits only, no teacher needed)."""
    distiller = Distiller(
        teacher,
        student,
        temperature=cfg.temperature,
        alpha=cfg.alpha,
        hidden_weight=cfg.hidden_weight if intermediate else 0.0,
        attention_weight=cfg.attention_weight if intermediate else 0.0,
        hidden_loss=cfg.hidden_loss,
        attention_loss=cfg.attention_loss,
        layer_map=list(cfg.layer_map) or None,
        logit_weight=logit_weight,
    )
    distiller.compile(optimizer=adamw_of(cfg, total_steps))
    return distiller


def _layerwise(cfg, teacher, student, dataset, strategy, folder, key):
    """TinyBERT's first stage: `(student, record)` after `layerwise_epochs` of hidden-state/attention losses alone.

    Resumable: `folder` keeps a checkpoint per epoch (`backup/`) and, once
    done, the student and its record, which a rerun of the same recipe reuses.
    """
    from fastformers_tf.artifacts import write_json
    from fastformers_tf.models.saving import load_model, save_model

    done, state_file = os.path.join(folder, "student"), os.path.join(folder, "state.json")
    state = None
    if os.path.isfile(state_file):
        with open(state_file, encoding="utf-8") as f:
            state = json.load(f)
    if state is not None and state.get("key") == key and "record" in state and os.path.isdir(done):
        print(f"layer-wise stage done before: {done}")
        with strategy.scope():
            return load_model(done), state["record"]
    if state is None or state.get("key") != key:
        shutil.rmtree(folder, ignore_errors=True)  # another recipe's
        os.makedirs(folder)
        write_json(state_file, {"key": key})
    steps = int(dataset.cardinality()) * cfg.layerwise_epochs
    with strategy.scope():
        distiller = _distiller(cfg, teacher, student, steps, logit_weight=0.0)
    times = EpochTimes()
    backup = keras.callbacks.BackupAndRestore(os.path.join(folder, "backup"))
    history = distiller.fit(dataset, epochs=cfg.layerwise_epochs, callbacks=[backup, times, StepBar()], verbose=0)
    record = {
        "epochs": cfg.layerwise_epochs,
        "hidden_weight": cfg.hidden_weight,
        "attention_weight": cfg.attention_weight,
        "loss": [round(float(v), 6) for v in history.history.get("loss", [])],  # the epochs this run trained
        "seconds": times.seconds,
    }
    print(f"layer-wise stage: {cfg.layerwise_epochs} epoch(s), loss {record['loss']}")
    student = distiller.plain_student()
    save_model(student, done)
    write_json(state_file, {"key": key, "record": record})
    return student, record


def distill(recipe, verbose=1, resume_dir=None):
    """Distils `recipe.distill.teacher` into a student on `recipe.task`; returns the run summary.

    Evaluated `distill.evals_per_epoch` times per epoch; a killed run goes on
    from its last evaluation when rerun (`resume_dir`, default
    `<output_dir>/resume`: see `fastformers_tf.train.resume`).
    """
    cfg = validate(recipe).distill
    if not cfg.teacher:
        raise RecipeError("distill.teacher is empty: pass --teacher=DIR, a fine-tuned task model folder.")
    strategy = make_strategy(recipe.strategy)  # first: a multi-worker strategy configures TensorFlow's runtime
    chief = is_chief(strategy)
    keras.utils.set_random_seed(recipe.seed)
    task = get_task(recipe.task)
    output_dir = recipe.resolved_output_dir()
    with strategy.scope():  # the models' variables live on every replica
        members = [load_teacher(folder, task) for folder in teacher_folders(cfg)]
        student, student_tokenizer, made = build_student(cfg, task, recipe.seed)
    teacher_tokenizer, shared_tokenizer, intermediate = _check_teachers(cfg, members, student, student_tokenizer)

    def neighbor_table(examples):
        embeddings = encoder_of(members[0]).embeddings.word_embeddings.numpy()  # [vocab, D]
        return NeighborTable.build(embeddings, teacher_tokenizer, words_of(examples), cfg.neighbor_k)

    train, evals, found, sides, teacher_evals = _transfer_data(
        recipe, task, student_tokenizer, None if shared_tokenizer else teacher_tokenizer, neighbor_table
    )
    per_source, all_logits, teacher_metrics, ensemble = _label_by_teacher(
        cfg, task, members, teacher_tokenizer, found, sides, teacher_evals, recipe.resolved_cache_dir(), verbose
    )
    teacher = members[0]

    # === Train ===
    data = TaskData.joined([student_side for student_side, _ in sides], "transfer")
    if cfg.quantize_aware:
        student, made["quantize_aware"] = _quantized(student, data, cfg, strategy)
    dataset = data.dataset(
        student, cfg.batch_size, cfg.bucket_window, recipe.seed, extra={TEACHER_LOGITS: np.concatenate(all_logits)}
    )
    dataset = distributed(dataset)
    resume_dir = resume_dir or os.path.join(output_dir, "resume")
    if cfg.layerwise_epochs:  # stage 1: hidden states and attentions alone; stage 2 (below): logits alone
        student, made["layerwise"] = _layerwise(
            cfg, teacher, student, dataset, strategy, f"{resume_dir}-layerwise", run_key(recipe)
        )
        intermediate = False
    _, _, total_steps = plan_steps(dataset, cfg.epochs, cfg.evals_per_epoch)
    with strategy.scope():
        distiller = _distiller(cfg, teacher if intermediate else None, student, total_steps, intermediate)
    epoch_times = EpochTimes()
    tensorboard = keras.callbacks.TensorBoard(log_dir=os.path.join(output_dir, "logs"))
    sizes = " + ".join(f"{r['examples']} {r['source']}" for r in per_source)
    print(
        f"{task.name}: student {made['layers']}L/{made['hidden_dim']} from {cfg.student}; transfer {sizes}; "
        f"{len(evals)} {cfg.eval_split} examples, {total_steps} steps"
    )
    start = time.time()
    with (
        best_folder(output_dir, chief) as best,
        resume_folder(resume_dir, chief) as resume,
    ):
        keep_best = KeepBest(
            evals, best, student_tokenizer, cfg.eval_batch_size, recipe, target=distiller.plain_student
        )
        fit_keeping_best(
            distiller,
            dataset,
            cfg.epochs,
            cfg.evals_per_epoch,
            keep_best,
            resume,
            run_key(recipe),
            best if chief else None,
            [epoch_times, tensorboard],
            verbose,
        )
    wall_clock = time.time() - start
    shutil.rmtree(f"{resume_dir}-layerwise", ignore_errors=True)  # the run is complete: nothing to resume
    if not chief:  # the chief reports and writes
        return {"task": task.name, "teacher": cfg.teacher, "student": made, "wall_clock_s": round(wall_clock, 1)}

    # === Report: each source's agreement with the teacher, for the best student ===
    from fastformers_tf.models.saving import load_model

    best = load_model(os.path.join(output_dir, "best"))
    for record, (student_side, _), logits in zip(per_source, sides, all_logits, strict=True):
        record["student_agreement"] = _agreement(best, student_side, np.argmax(logits, -1), cfg.eval_batch_size)
    summary = {
        "task": task.name,
        "teacher": cfg.teacher,
        "student": made,
        "eval_split": cfg.eval_split,
        "eval_examples": len(evals),
        "holdout": train.carve.record() if train.carve is not None else None,
        "teacher_metrics": teacher_metrics,
        "ensemble": ensemble,
        "transfer": per_source,
        "epochs": [{**h, "seconds": s} for h, s in zip(keep_best.history, epoch_times.seconds, strict=False)],
        "best": keep_best.best,
        "best_epoch": keep_best.best_epoch,
        "wall_clock_s": round(wall_clock, 1),
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
    }
    from fastformers_tf.artifacts import write_json

    write_json(os.path.join(output_dir, "metrics.json"), summary)
    save_recipe(recipe, os.path.join(output_dir, "recipe.yaml"))
    return summary


class EpochTimes(keras.callbacks.Callback):
    """Seconds of training per epoch (before evaluation)."""

    def __init__(self):
        super().__init__()
        self.seconds, self._start = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(round(time.time() - self._start, 1))
