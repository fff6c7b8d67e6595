"""Task readers, their formulations and the registry `TASKS`.

Formulations (see `Task`):
  classification: one example per row: RTE, CB, BoolQ, AX-b, AX-g, SST-2,
    MRPC, TREC and tasks from `make_generic_task`.
  candidates: a binary false/true classifier over candidates, decoded per
    group by the highest P(true): COPA's two choices, MultiRC's answers (each
    judged on its own, EM per question), ReCoRD's entities.
  spans: classification over pooled character spans: WiC, WSC.

`Task.files` are relative to the data directory; `Task.read(path, split)`
takes the joined path. Rows without a label (SuperGLUE test splits) load
with `label=None`; a file mixing labeled and unlabeled rows is an error.

Example:
    >>> task = get_task("rte")
    >>> examples = task.read(os.path.join(data_dir, task.files["val"]), "val")
"""

import logging
import os
import re
import string

import numpy as np

from fastformers_tf.data.examples import DataError, Example, Task, data_error
from fastformers_tf.data.metrics import (
    best_in_groups,
    candidates_accuracy,
    classification_metric,
    multirc_metric,
    record_metric,
)
from fastformers_tf.data.readers import read_csv, read_jsonl, read_lines, read_tsv

logger = logging.getLogger(__name__)

BINARY = ("false", "true")
NLI2 = ("entailment", "not_entailment")
NLI3 = ("entailment", "contradiction", "neutral")
TREC_LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
FORMATS = {"csv": read_csv, "tsv": read_tsv, "jsonl": read_jsonl}

# === Row helpers ===


class RowError(Exception):
    """A bad row; `_read` adds the file and line and raises it as a `DataError` (batch scoring dead-letters it)."""


def _field(row, key):
    if not isinstance(row, dict) or key not in row:
        raise RowError(f"missing field {key!r}")
    return row[key]


def _text(row, key, allow_empty=False):
    value = _field(row, key)
    if not isinstance(value, str):
        raise RowError(f"expected text in field {key!r}, got {value!r}")
    if not value.strip() and not allow_empty:
        raise RowError(f"empty text in field {key!r}")
    return value


def _label_name(value):
    # JSON booleans become "true"/"false" and numbers their decimal text, so one names tuple fits every file.
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _label(row, key, names):
    """Index of `row[key]` in `names`; None when the row has no such field (unlabeled)."""
    if key not in row:
        return None
    name = _label_name(row[key])
    if name not in names:
        raise RowError(f"unknown label {row[key]!r} in field {key!r}; expected one of {list(names)}")
    return names.index(name)


def _read(path, split, rows, make):
    """`make(row, split, n, where) -> [Example]` over `rows(path)`; bad rows raise a `DataError` at file:line."""
    examples, labeled = [], None
    for n, (line, row) in enumerate(rows(path)):
        try:
            new = make(row, split, n, f"{path}:{line}")
        except RowError as e:
            raise data_error(path, line, str(e)) from None
        for example in new:
            if labeled is None:
                labeled = example.label is not None
            elif labeled != (example.label is not None):
                raise data_error(
                    path,
                    line,
                    "unlabeled, but earlier rows are labeled" if labeled else "labeled, but earlier rows are not",
                )
        examples.extend(new)
    return examples


def _reader(make, rows=read_jsonl):
    def read(path, split):
        return _read(path, split, rows, make)

    return read


# === Predictions (SuperGLUE submission records) ===


def _label_predictions(labels):
    # SuperGLUE writes false/true labels (BoolQ, WiC, WSC) as JSON booleans.
    names = [name == "true" for name in labels] if labels == BINARY else list(labels)

    def predictions(examples, probs):
        preds = np.argmax(probs, axis=-1)
        return [{"idx": e.meta["idx"], "label": names[p]} for e, p in zip(examples, preds, strict=True)]

    return predictions


def _copa_predictions(examples, probs):
    best = [examples[i].meta for i in best_in_groups(examples, probs).values()]
    return [{"idx": meta["idx"], "label": meta["choice"]} for meta in best]


def _record_predictions(examples, probs):
    best = [examples[i].meta for i in best_in_groups(examples, probs).values()]
    return [{"idx": meta["idx"], "label": meta["entity"]} for meta in best]


def _multirc_predictions(examples, probs):
    passages = {}  # passage idx -> question idx -> answer records, in file order
    for example, pred in zip(examples, np.argmax(probs, axis=-1), strict=True):
        meta = example.meta
        answers = passages.setdefault(meta["idx"], {}).setdefault(meta["question_idx"], [])
        answers.append({"idx": meta["answer_idx"], "label": int(pred)})
    return [
        {"idx": p, "passage": {"questions": [{"idx": q, "answers": answers} for q, answers in questions.items()]}}
        for p, questions in passages.items()
    ]


# === SuperGLUE readers ===


def _pair(key_a, key_b, labels):
    """Sentence-pair classification over `row[key_a]`, `row[key_b]`, with `row["label"]` among `labels`."""

    def make(row, split, n, where):
        idx = _field(row, "idx")
        text_a, text_b = _text(row, key_a), _text(row, key_b)
        return [Example(f"{split}-{idx}", text_a, text_b, _label(row, "label", labels), meta={"idx": idx})]

    return make


def _copa(row, split, n, where):
    # The question type goes into text_a so that one binary classifier scores causes and effects.
    idx, question = _field(row, "idx"), _field(row, "question")
    if question not in ("cause", "effect"):
        raise RowError(f"unknown question {question!r}; expected 'cause' or 'effect'")
    premise = f"{_text(row, 'premise')} What was the {question}?"
    choices = [_text(row, "choice1"), _text(row, "choice2")]
    answer = _label(row, "label", ("0", "1"))
    return [
        Example(
            f"{split}-{idx}-c{c}",
            premise,
            choice,
            None if answer is None else int(answer == c),
            group=f"{split}-{idx}",
            meta={"idx": idx, "choice": c},
        )
        for c, choice in enumerate(choices)
    ]


def _multirc(row, split, n, where):
    # A few real answer options are empty strings (train 3, test 1); they are still options to judge and submit.
    p, passage = _field(row, "idx"), _field(row, "passage")
    text, examples = _text(passage, "text"), []
    for question in _field(passage, "questions"):
        q, query = _field(question, "idx"), _text(question, "question")
        for answer in _field(question, "answers"):
            a = _field(answer, "idx")
            examples.append(
                Example(
                    f"{split}-{p}-q{q}-a{a}",
                    text,
                    f"{query} {_text(answer, 'text', allow_empty=True)}".rstrip(),
                    _label(answer, "label", ("0", "1")),
                    group=f"{split}-{p}-q{q}",
                    meta={"idx": p, "question_idx": q, "answer_idx": a},
                )
            )
    return examples


def _record(row, split, n, where):
    passage = _field(row, "passage")
    text, entities = _text(passage, "text"), []
    for entity in _field(passage, "entities"):
        start, end = _field(entity, "start"), _field(entity, "end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end < len(text)):
            raise RowError(f"entity [{start}, {end}] outside the passage ({len(text)} characters)")
        name = text[start : end + 1]  # ReCoRD's `end` is inclusive
        if name not in entities:
            entities.append(name)
    if not entities:
        raise RowError("passage has no entities")
    examples = []
    for qa in _field(row, "qas"):
        q, query = _field(qa, "idx"), _text(qa, "query")
        if "@placeholder" not in query:
            raise RowError(f"query {q} has no @placeholder")
        answers = [_text(answer, "text") for answer in qa["answers"]] if "answers" in qa else None
        for k, name in enumerate(entities):
            label = None if answers is None else int(name in answers)
            examples.append(
                Example(
                    f"{split}-{q}-e{k}",
                    text,
                    query.replace("@placeholder", name),
                    label,
                    group=f"{split}-{q}",
                    meta={"idx": q, "entity": name, "answers": answers or []},
                )
            )
    return examples


def _char_span(text, start, end, segment, name):
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise RowError(f"{name} [{start}, {end}) outside its text ({len(text)} characters)")
    return (segment, start, end)


def _wic(row, split, n, where):
    idx, text_a, text_b = _field(row, "idx"), _text(row, "sentence1"), _text(row, "sentence2")
    spans = (
        _char_span(text_a, _field(row, "start1"), _field(row, "end1"), 0, "start1/end1"),
        _char_span(text_b, _field(row, "start2"), _field(row, "end2"), 1, "start2/end2"),
    )
    return [Example(f"{split}-{idx}", text_a, text_b, _label(row, "label", BINARY), spans=spans, meta={"idx": idx})]


def _word_key(text):
    # Case, punctuation and a possessive 's differ between WSC's span texts and its words.
    return " ".join("".join(ch for ch in text.lower() if ch not in string.punctuation).split())


def _word_span(text, words, index, span_text, name, where):
    """Character span (segment 0) of the `len(span_text.split())` words of `text` at word `index`.

    The span text must match those words up to case, punctuation and a
    trailing possessive. A mismatch is looked for up to two words away (WSC
    val has an off-by-one index) and else kept as given with a warning (WSC
    test has discontinuous mentions such as "Kamenev and Zinoviev"); both are
    logged with the file and line.
    """
    if not isinstance(index, int):
        raise RowError(f"{name}_index must be an int, got {index!r}")
    count = len(span_text.split())

    def matches(i):
        return (
            0 <= i
            and i + count <= len(words)
            and _word_key(" ".join(w[0] for w in words[i : i + count])).startswith(_word_key(span_text))
        )

    if not matches(index):
        near = next((i for i in (index + 1, index - 1, index + 2, index - 2) if matches(i)), None)
        if near is not None:
            logger.warning("%s: %s_text %r is at word %d, not %d; using %d.", where, name, span_text, near, index, near)
            index = near
        elif 0 <= index and index + count <= len(words):
            found = " ".join(w[0] for w in words[index : index + count])
            logger.warning(
                "%s: %s_text %r does not match words %d-%d %r; using the index.",
                where,
                name,
                span_text,
                index,
                index + count - 1,
                found,
            )
        else:
            raise RowError(f"{name}_index {index} + {count} words is past the end of the text ({len(words)} words)")
    start, end = words[index].start(), words[index + count - 1].end()
    while end - start > 1 and text[end - 1] in string.punctuation:
        end -= 1  # "them," pools "them"
    return (0, start, end)


def _wsc(row, split, n, where):
    idx, text, target = _field(row, "idx"), _text(row, "text"), _field(row, "target")
    words = list(re.finditer(r"\S+", text))  # the same words as `text.split()`, with their offsets
    spans = tuple(
        _word_span(text, words, _field(target, f"span{k}_index"), _text(target, f"span{k}_text"), f"span{k}", where)
        for k in (1, 2)
    )
    return [Example(f"{split}-{idx}", text, None, _label(row, "label", BINARY), spans=spans, meta={"idx": idx})]


# === Generic tasks (CSV, TSV, JSONL, or any `(line_number, dict)` reader) ===


def read_trec(path):
    """Yields `(line_number, {"label": coarse, "fine": "coarse:fine", "text": question})` from TREC's lines.

    Example:
        `DESC:manner How did serfdom develop in and then leave Russia ?` gives label "DESC".
    """
    for number, line in read_lines(path):
        match = re.fullmatch(r"([A-Z]+):(\S+) (.*)", line)
        if not match:
            raise data_error(path, number, f"expected 'COARSE:fine question', got {line[:40]!r}")
        yield number, {"label": match[1], "fine": f"{match[1]}:{match[2]}", "text": match[3]}


def row_texts(row, text_column, text_pair_column=None):
    """`(text_a, text_b or None)` of a generic task's row; `RowError` when a column is missing or empty."""
    return _text(row, text_column), _text(row, text_pair_column) if text_pair_column else None


def make_generic_task(
    name,
    files,
    text_column,
    label_column,
    text_pair_column=None,
    labels=None,
    file_format="csv",
    metrics=("accuracy",),
    data_dir=None,
    label_names=None,
    nested_phrases=False,
):
    """A classification task over files with named columns.

    Args:
        name: the task name.
        files: split -> path relative to the data directory.
        text_column, text_pair_column: column(s) with text_a (and text_b).
        label_column: column with the label; a file without it (or JSONL rows
            without the key) loads unlabeled.
        labels: label names. None infers them from the "train" file under
            `data_dir`: every distinct value, sorted as strings (JSON booleans
            read as "false"/"true").
        file_format: "csv", "tsv", "jsonl" (with a header / keys naming the
            columns), or a function `rows(path)` yielding `(line_number, dict)`.
        metrics: names for `classification_metric`, main metric first.
        data_dir: only used to infer `labels`.
        label_names: the name a model and its users see for each label value
            in the files (e.g. {"0": "negative", "1": "positive"}); None: the
            values themselves.
        nested_phrases: see `Task.nested_phrases`.

    Example:
        >>> task = make_generic_task("news", {"train": "news/train.csv"}, "title", "topic",
        ...                          labels=("business", "sports"))
    """
    rows = FORMATS.get(file_format, file_format)
    if not callable(rows):
        raise ValueError(f"Unknown file_format {file_format!r}; use one of {sorted(FORMATS)} or a row reader.")
    if labels is None:
        if data_dir is None or "train" not in files:
            raise ValueError(f"Task {name!r}: give `labels`, or `data_dir` and a 'train' file to infer them from.")
        path = os.path.join(data_dir, files["train"])
        labels = sorted({_label_name(row[label_column]) for _, row in rows(path) if label_column in row})
        if not labels:
            raise DataError(f"{path}: no {label_column!r} values to infer the labels of task {name!r} from.")
    values = tuple(labels)
    if label_names is not None and sorted(label_names) != sorted(values):
        raise ValueError(f"Task {name!r}: label_names {label_names} do not name exactly the labels {list(values)}.")
    names = tuple(label_names[v] for v in values) if label_names else values

    def make(row, split, n, where):
        text_a, text_b = row_texts(row, text_column, text_pair_column)
        return [Example(f"{split}-{n}", text_a, text_b, _label(row, label_column, values), meta={"idx": n})]

    return Task(
        name,
        names,
        dict(files),
        _reader(make, rows),
        "classification",
        classification_metric(*metrics),
        nested_phrases=nested_phrases,
    )


# === Registry ===

_ACCURACY = classification_metric("accuracy")


def _superglue(
    name,
    folder,
    labels,
    make,
    formulation="classification",
    metric=_ACCURACY,
    predictions=None,
    files=None,
    num_spans=0,
):
    """A SuperGLUE task: `superglue/<folder>/{train,val,test}.jsonl`, submitted as `<folder>.jsonl`."""
    files = files or {split: f"superglue/{folder}/{split}.jsonl" for split in ("train", "val", "test")}
    predictions = predictions or _label_predictions(labels)
    return Task(name, labels, files, _reader(make), formulation, metric, predictions, f"{folder}.jsonl", num_spans)


TASKS = {
    task.name: task
    for task in (
        _superglue("rte", "RTE", NLI2, _pair("premise", "hypothesis", NLI2)),
        _superglue(
            "cb", "CB", NLI3, _pair("premise", "hypothesis", NLI3), metric=classification_metric("accuracy", "macro_f1")
        ),
        _superglue("boolq", "BoolQ", BINARY, _pair("question", "passage", BINARY)),
        _superglue("copa", "COPA", BINARY, _copa, "candidates", candidates_accuracy, _copa_predictions),
        _superglue("multirc", "MultiRC", BINARY, _multirc, "candidates", multirc_metric, _multirc_predictions),
        _superglue("record", "ReCoRD", BINARY, _record, "candidates", record_metric, _record_predictions),
        _superglue("wic", "WiC", BINARY, _wic, "spans", num_spans=2),
        _superglue("wsc", "WSC", BINARY, _wsc, "spans", num_spans=2),
        # The diagnostics are test-only sets, scored like RTE (AX-b by Matthews correlation).
        _superglue(
            "axb",
            "AX-b",
            NLI2,
            _pair("sentence1", "sentence2", NLI2),
            metric=classification_metric("mcc"),
            files={"test": "superglue/AX-b/AX-b.jsonl"},
        ),
        _superglue(
            "axg", "AX-g", NLI2, _pair("premise", "hypothesis", NLI2), files={"test": "superglue/AX-g/AX-g.jsonl"}
        ),
        # glue_dev is GLUE's official dev set, the split SST-2 is reported on; dev was cut at random from GLUE
        # train phrases (89% of its phrases occur inside train phrases), so it is for training and quick checks only.
        make_generic_task(
            "sst2",
            {"train": "glue/SST-2/train.tsv", "dev": "glue/SST-2/dev.tsv", "glue_dev": "glue/SST-2/glue_dev.tsv"},
            "sentence",
            "label",
            labels=("0", "1"),
            label_names={"0": "negative", "1": "positive"},
            file_format="tsv",
            nested_phrases=True,
        ),
        # The original MSR file only: GLUE's train/dev split of it is not here, so a caller carves out a dev set.
        make_generic_task(
            "mrpc",
            {"train": "glue/MRPC/msr_paraphrase_train.txt"},
            "#1 String",
            "Quality",
            text_pair_column="#2 String",
            labels=("0", "1"),
            label_names={"0": "not_equivalent", "1": "equivalent"},
            file_format="tsv",
            metrics=("f1", "accuracy"),
        ),
        make_generic_task(
            "trec",
            {"train": "extra/TREC/train.txt", "test": "extra/TREC/test.txt"},
            "text",
            "label",
            labels=TREC_LABELS,
            file_format=read_trec,
        ),
    )
}


def get_task(name):
    """The registered `Task` called `name` (case-insensitive).

    Example:
        >>> get_task("RTE").labels
        ('entailment', 'not_entailment')
    """
    task = TASKS.get(name.lower())
    if task is None:
        raise ValueError(f"Unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}.")
    return task
