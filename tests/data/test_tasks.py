"""Task readers and formulations on tiny files, decoding and submission records, and the real data's counts."""

import json
import logging
import os

import numpy as np
import pytest

from fastformers_tf.data import TASKS, DataError, get_task, make_generic_task
from fastformers_tf.recipe import default_data_dir


def write_jsonl(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def write_text(tmp_path, text, name):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(path)


def one_hot_true(examples, true_guids):
    """probs with P(true) = 0.9 for the listed guids, 0.2 otherwise."""
    p_true = np.array([0.9 if e.guid in true_guids else 0.2 for e in examples])
    return np.stack([1 - p_true, p_true], axis=1)


RTE_ROWS = [
    {"premise": "A dog runs.", "hypothesis": "An animal moves.", "label": "entailment", "idx": 0},
    {"premise": "A cat sleeps.", "hypothesis": "The cat runs.", "label": "not_entailment", "idx": 1},
]


# === Registry ===


def test_get_task_is_case_insensitive_and_lists_known_names():
    assert get_task("RTE") is TASKS["rte"]
    with pytest.raises(ValueError, match="Unknown task 'mnli'; known tasks: axb, axg, boolq, cb, copa"):
        get_task("mnli")


def test_formulations_submission_files_and_main_metrics():
    expected = {
        "rte": ("classification", "RTE.jsonl"),
        "cb": ("classification", "CB.jsonl"),
        "boolq": ("classification", "BoolQ.jsonl"),
        "copa": ("candidates", "COPA.jsonl"),
        "multirc": ("candidates", "MultiRC.jsonl"),
        "record": ("candidates", "ReCoRD.jsonl"),
        "wic": ("spans", "WiC.jsonl"),
        "wsc": ("spans", "WSC.jsonl"),
        "axb": ("classification", "AX-b.jsonl"),
        "axg": ("classification", "AX-g.jsonl"),
        "sst2": ("classification", None),
        "mrpc": ("classification", None),
        "trec": ("classification", None),
    }
    assert {name: (t.formulation, t.submission_file) for name, t in TASKS.items()} == expected
    assert TASKS["wic"].num_spans == TASKS["wsc"].num_spans == 2
    assert TASKS["axb"].files == {"test": "superglue/AX-b/AX-b.jsonl"}
    assert TASKS["record"].files["val"] == "superglue/ReCoRD/val.jsonl"
    assert all(not os.path.isabs(path) for t in TASKS.values() for path in t.files.values())


# === Pair classification ===


def test_rte_reads_pairs_and_writes_label_names(tmp_path):
    task = get_task("rte")
    examples = task.read(write_jsonl(tmp_path, RTE_ROWS), "val")
    assert [(e.guid, e.text_a, e.text_b, e.label) for e in examples] == [
        ("val-0", "A dog runs.", "An animal moves.", 0),
        ("val-1", "A cat sleeps.", "The cat runs.", 1),
    ]
    probs = np.array([[0.8, 0.2], [0.7, 0.3]])
    assert task.metric(examples, probs) == {"accuracy": 0.5}
    assert task.predictions(examples, probs) == [{"idx": 0, "label": "entailment"}, {"idx": 1, "label": "entailment"}]


def test_unlabeled_test_split_loads_with_label_none(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "label"} for row in RTE_ROWS]
    examples = get_task("rte").read(write_jsonl(tmp_path, rows), "test")
    assert [e.label for e in examples] == [None, None]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": "contradiction"}, "unknown label 'contradiction' in field 'label'"),
        ({"hypothesis": "  "}, "empty text in field 'hypothesis'"),
        ({"premise": None}, "expected text in field 'premise', got None"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, change, message):
    rows = [RTE_ROWS[0], {**RTE_ROWS[1], **change}]
    path = write_jsonl(tmp_path, rows)
    with pytest.raises(DataError, match=f"{path}:2: {message}"):
        get_task("rte").read(path, "train")


def test_missing_field_and_mixed_labels_name_file_and_line(tmp_path):
    missing = {k: v for k, v in RTE_ROWS[1].items() if k != "hypothesis"}
    path = write_jsonl(tmp_path, [RTE_ROWS[0], missing])
    with pytest.raises(DataError, match=f"{path}:2: missing field 'hypothesis'"):
        get_task("rte").read(path, "train")
    unlabeled = {k: v for k, v in RTE_ROWS[1].items() if k != "label"}
    path = write_jsonl(tmp_path, [RTE_ROWS[0], unlabeled])
    with pytest.raises(DataError, match=f"{path}:2: unlabeled, but earlier rows are labeled"):
        get_task("rte").read(path, "train")


def test_cb_three_labels_and_macro_f1(tmp_path):
    rows = [
        {"premise": "p", "hypothesis": "h", "label": label, "idx": i}
        for i, label in enumerate(["entailment", "contradiction", "neutral"])
    ]
    task = get_task("cb")
    examples = task.read(write_jsonl(tmp_path, rows), "val")
    assert [e.label for e in examples] == [0, 1, 2]
    probs = np.eye(3)[[0, 1, 1]]  # neutral is never predicted
    # accuracy 2/3; F1 per class: 1, 2/3 (TP 1, FP 1), 0 -> macro 5/9.
    assert task.metric(examples, probs) == {"accuracy": pytest.approx(2 / 3), "macro_f1": pytest.approx(5 / 9)}
    assert task.predictions(examples, probs)[2] == {"idx": 2, "label": "contradiction"}


def test_boolq_json_booleans(tmp_path):
    rows = [
        {"question": "is it?", "passage": "It is.", "label": True, "idx": 0},
        {"question": "is it not?", "passage": "It is.", "label": False, "idx": 1},
    ]
    task = get_task("boolq")
    examples = task.read(write_jsonl(tmp_path, rows), "val")
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [("is it?", "It is.", 1), ("is it not?", "It is.", 0)]
    assert task.labels == ("false", "true")
    preds = task.predictions(examples, np.array([[0.1, 0.9], [0.1, 0.9]]))
    assert preds == [{"idx": 0, "label": True}, {"idx": 1, "label": True}]


@pytest.mark.parametrize("name, fields", [("axb", ("sentence1", "sentence2")), ("axg", ("premise", "hypothesis"))])
def test_diagnostics(tmp_path, name, fields):
    labels = ["entailment", "not_entailment", "not_entailment", "entailment"]
    rows = [{fields[0]: "a", fields[1]: "b", "label": label, "idx": i} for i, label in enumerate(labels)]
    task = get_task(name)
    examples = task.read(write_jsonl(tmp_path, rows, "AX.jsonl"), "test")
    probs = np.eye(2)[[0, 1, 0, 0]]
    # Labels 0110, preds 0100: accuracy 3/4. MCC with class 1 positive: TP 1, FN 1, FP 0, TN 2
    # -> (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 2 / sqrt(1 * 2 * 2 * 3).
    main = {"axb": {"mcc": pytest.approx(2 / np.sqrt(12))}, "axg": {"accuracy": 0.75}}[name]
    assert task.metric(examples, probs) == main
    assert task.predictions(examples, probs)[1] == {"idx": 1, "label": "not_entailment"}


# === Candidates ===

COPA_ROWS = [
    {
        "premise": "The man turned on the faucet.",
        "choice1": "The toilet filled.",
        "choice2": "Water flowed.",
        "question": "effect",
        "label": 1,
        "idx": 0,
    },
    {
        "premise": "My body cast a shadow.",
        "choice1": "The sun was rising.",
        "choice2": "The grass was cut.",
        "question": "cause",
        "label": 0,
        "idx": 1,
    },
]


def test_copa_two_candidates_per_row(tmp_path):
    task = get_task("copa")
    examples = task.read(write_jsonl(tmp_path, COPA_ROWS), "val")
    assert len(examples) == 4
    first, second = examples[:2]
    assert first.text_a == second.text_a == "The man turned on the faucet. What was the effect?"
    assert examples[2].text_a == "My body cast a shadow. What was the cause?"
    assert (first.text_b, first.label, first.meta) == ("The toilet filled.", 0, {"idx": 0, "choice": 0})
    assert (second.text_b, second.label, second.meta) == ("Water flowed.", 1, {"idx": 0, "choice": 1})
    assert first.group == second.group != examples[2].group


def test_copa_decodes_the_highest_p_true_per_group(tmp_path):
    task = get_task("copa")
    examples = task.read(write_jsonl(tmp_path, COPA_ROWS), "val")
    # Row 0: choice 1 wins (0.9 vs 0.2); row 1: both low, choice 1 still wins (0.3 vs 0.2) and is wrong.
    p_true = np.array([0.2, 0.9, 0.2, 0.3])
    probs = np.stack([1 - p_true, p_true], axis=1)
    assert task.predictions(examples, probs) == [{"idx": 0, "label": 1}, {"idx": 1, "label": 1}]
    assert task.metric(examples, probs) == {"accuracy": 0.5}


def test_copa_unknown_question(tmp_path):
    path = write_jsonl(tmp_path, [COPA_ROWS[0], {**COPA_ROWS[1], "question": "reason"}])
    with pytest.raises(DataError, match=f"{path}:2: unknown question 'reason'"):
        get_task("copa").read(path, "train")


MULTIRC_ROWS = [
    {
        "idx": 0,
        "passage": {
            "text": "Paragraph zero.",
            "questions": [
                {
                    "idx": 0,
                    "question": "Q0?",
                    "answers": [{"idx": 0, "text": "yes", "label": 1}, {"idx": 1, "text": "no", "label": 0}],
                },
                {"idx": 1, "question": "Q1?", "answers": [{"idx": 2, "text": "", "label": 0}]},
            ],
        },
    },
    {
        "idx": 1,
        "passage": {
            "text": "Paragraph one.",
            "questions": [{"idx": 2, "question": "Q2?", "answers": [{"idx": 3, "text": "maybe", "label": 1}]}],
        },
    },
]


def test_multirc_one_example_per_answer_grouped_by_question(tmp_path):
    task = get_task("multirc")
    examples = task.read(write_jsonl(tmp_path, MULTIRC_ROWS), "val")
    assert [(e.text_a, e.text_b, e.label, e.group) for e in examples] == [
        ("Paragraph zero.", "Q0? yes", 1, "val-0-q0"),
        ("Paragraph zero.", "Q0? no", 0, "val-0-q0"),
        ("Paragraph zero.", "Q1?", 0, "val-0-q1"),  # the real data has a few empty answer options
        ("Paragraph one.", "Q2? maybe", 1, "val-1-q2"),
    ]
    probs = one_hot_true(examples, {"val-0-q0-a0", "val-0-q0-a1", "val-1-q2-a3"})
    # q0 has one wrong answer, q1 and q2 right -> EM 2/3; TP 2, FP 1, FN 0 -> F1a 4/5.
    assert task.metric(examples, probs) == {"f1a": pytest.approx(0.8), "em": pytest.approx(2 / 3)}
    assert task.predictions(examples, probs) == [
        {
            "idx": 0,
            "passage": {
                "questions": [
                    {"idx": 0, "answers": [{"idx": 0, "label": 1}, {"idx": 1, "label": 1}]},
                    {"idx": 1, "answers": [{"idx": 2, "label": 0}]},
                ]
            },
        },
        {"idx": 1, "passage": {"questions": [{"idx": 2, "answers": [{"idx": 3, "label": 1}]}]}},
    ]


def test_multirc_unknown_answer_label_names_the_line(tmp_path):
    rows = [MULTIRC_ROWS[0], json.loads(json.dumps(MULTIRC_ROWS[1]).replace('"label": 1', '"label": 2'))]
    path = write_jsonl(tmp_path, rows)
    with pytest.raises(DataError, match=f"{path}:2: unknown label 2"):
        get_task("multirc").read(path, "train")


RECORD_TEXT = "Obama met Biden at the White House. @highlight\nObama spoke"
RECORD_ROW = {
    "idx": 0,
    "passage": {
        "text": RECORD_TEXT,
        # end is inclusive; "Obama" appears twice and is one candidate.
        "entities": [
            {"start": 0, "end": 4},
            {"start": 10, "end": 14},
            {"start": 23, "end": 33},
            {"start": 47, "end": 51},
        ],
    },
    "qas": [
        {"idx": 7, "query": "@placeholder is the president.", "answers": [{"start": 0, "end": 4, "text": "Obama"}]},
        {"idx": 8, "query": "They met at @placeholder.", "answers": [{"start": 23, "end": 33, "text": "White House"}]},
    ],
}


def test_record_one_candidate_per_distinct_entity(tmp_path):
    task = get_task("record")
    examples = task.read(write_jsonl(tmp_path, [RECORD_ROW]), "val")
    assert [(e.text_b, e.label, e.group) for e in examples[:3]] == [
        ("Obama is the president.", 1, "val-7"),
        ("Biden is the president.", 0, "val-7"),
        ("White House is the president.", 0, "val-7"),
    ]
    assert len(examples) == 6 and examples[0].text_a == RECORD_TEXT
    assert examples[4].meta == {"idx": 8, "entity": "Biden", "answers": ["White House"]}


def test_record_decodes_the_highest_p_true_entity_per_query(tmp_path):
    task = get_task("record")
    examples = task.read(write_jsonl(tmp_path, [RECORD_ROW]), "val")
    probs = one_hot_true(examples, {"val-7-e1", "val-8-e2"})
    assert task.predictions(examples, probs) == [{"idx": 7, "label": "Biden"}, {"idx": 8, "label": "White House"}]
    assert task.metric(examples, probs) == {"f1": 0.5, "em": 0.5}


def test_record_test_split_and_bad_entity(tmp_path):
    row = json.loads(json.dumps(RECORD_ROW))
    for qa in row["qas"]:
        del qa["answers"]
    examples = get_task("record").read(write_jsonl(tmp_path, [row]), "test")
    assert {e.label for e in examples} == {None}
    row["passage"]["entities"].append({"start": 50, "end": 99})
    path = write_jsonl(tmp_path, [RECORD_ROW, row])
    with pytest.raises(DataError, match=f"{path}:2: entity \\[50, 99\\] outside the passage"):
        get_task("record").read(path, "test")


# === Spans ===


def test_wic_spans(tmp_path):
    row = {
        "word": "place",
        "sentence1": "Come over to my place later?",
        "sentence2": "No place for them.",
        "idx": 0,
        "label": False,
        "start1": 16,
        "end1": 21,
        "start2": 3,
        "end2": 8,
    }
    task = get_task("wic")
    (example,) = task.read(write_jsonl(tmp_path, [row]), "val")
    assert example.spans == ((0, 16, 21), (1, 3, 8)) and example.label == 0
    assert example.text_a[16:21] == example.text_b[3:8] == "place"
    assert task.predictions([example], np.array([[0.2, 0.8]])) == [{"idx": 0, "label": True}]
    path = write_jsonl(tmp_path, [row, {**row, "end2": 40}])
    with pytest.raises(DataError, match=f"{path}:2: start2/end2 \\[3, 40\\) outside its text"):
        task.read(path, "val")


def wsc_row(text, index1, text1, index2, text2, label=True, idx=0):
    target = {"span1_index": index1, "span1_text": text1, "span2_index": index2, "span2_text": text2}
    return {"text": text, "target": target, "idx": idx, "label": label}


def wsc_span_texts(example):
    return [example.text_a[start:end] for _, start, end in example.spans]


def test_wsc_word_indices_become_character_spans(tmp_path):
    rows = [
        # Multi-word span, different case; the pronoun's comma is not pooled.
        wsc_row("Then the con artist  told Sam that, sadly, he lied.", 1, "The con artist", 8, "he"),
        # Possessive and trailing punctuation in the text only, as in the real data.
        wsc_row("Emma's mother had died, and her place was taken.", 0, "Emma", 5, "her,"),
    ]
    examples = get_task("wsc").read(write_jsonl(tmp_path, rows), "train")
    assert wsc_span_texts(examples[0]) == ["the con artist", "he"]
    assert wsc_span_texts(examples[1]) == ["Emma's", "her"]
    assert all(segment == 0 for e in examples for segment, _, _ in e.spans)
    assert examples[0].text_b is None and examples[0].label == 1


def test_wsc_off_by_one_index_is_repaired_and_logged(tmp_path, caplog):
    row = wsc_row("Some day they might want to use it , but not now.", 1, "day", 6, "it")
    path = write_jsonl(tmp_path, [row])
    with caplog.at_level(logging.WARNING, logger="fastformers_tf.data.superglue"):
        (example,) = get_task("wsc").read(path, "val")
    assert wsc_span_texts(example) == ["day", "it"]
    assert f"{path}:1: span2_text 'it' is at word 7, not 6" in caplog.text


def test_wsc_unmatched_span_keeps_the_index_with_a_warning(tmp_path, caplog):
    # A discontinuous mention, as in the real WSC test split.
    row = wsc_row(
        "Lev Kamenev, Stalin's old co-editor, and Zinoviev were dragged out.", 1, "Kamenev and Zinoviev", 0, "Lev"
    )
    path = write_jsonl(tmp_path, [row])
    with caplog.at_level(logging.WARNING, logger="fastformers_tf.data.superglue"):
        (example,) = get_task("wsc").read(path, "test")
    assert wsc_span_texts(example) == ["Kamenev, Stalin's old", "Lev"]
    assert f"{path}:1: span1_text 'Kamenev and Zinoviev' does not match" in caplog.text


def test_wsc_index_past_the_end_is_an_error(tmp_path):
    rows = [wsc_row("He ran.", 0, "He", 1, "ran"), wsc_row("He ran.", 0, "He", 5, "it")]
    path = write_jsonl(tmp_path, rows)
    with pytest.raises(DataError, match=f"{path}:2: span2_index 5 \\+ 1 words is past the end"):
        get_task("wsc").read(path, "train")


# === GLUE, TREC and generic tasks ===


def test_sst2_tsv(tmp_path):
    path = write_text(tmp_path, "sentence\tlabel\na charming film \t1\ndull \t0\n", "train.tsv")
    examples = get_task("sst2").read(path, "train")
    assert [(e.guid, e.text_a, e.label) for e in examples] == [
        ("train-0", "a charming film ", 1),
        ("train-1", "dull ", 0),
    ]
    bad = write_text(tmp_path, "sentence\tlabel\nfine\t1\nodd\t2\n", "bad.tsv")
    with pytest.raises(DataError, match=f"{bad}:3: unknown label '2' in field 'label'"):
        get_task("sst2").read(bad, "train")


def test_mrpc_msr_file_with_mojibake_bom(tmp_path):
    text = (
        b"\xc3\xaf\xc2\xbb\xc2\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        b"1\t702876\t702977\tAmrozi accused his brother .\tAmrozi accused him .\n"
        b"0\t2108705\t2108831\tYucaipa owned Dominick 's .\tYucaipa bought it .\n"
    )
    task = get_task("mrpc")
    examples = task.read(write_text(tmp_path, text, "msr.txt"), "train")
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [
        ("Amrozi accused his brother .", "Amrozi accused him .", 1),
        ("Yucaipa owned Dominick 's .", "Yucaipa bought it .", 0),
    ]
    assert task.files == {"train": "glue/MRPC/msr_paraphrase_train.txt"}
    # Both predicted 1: TP 1, FP 1 -> F1 2/3; accuracy 1/2.
    assert task.metric(examples, np.array([[0.1, 0.9], [0.4, 0.6]])) == {"f1": pytest.approx(2 / 3), "accuracy": 0.5}


def test_trec_coarse_labels_through_the_generic_path(tmp_path):
    text = "DESC:manner How did serfdom develop ?\nHUM:ind Who killed Gandhi ?\nNUM:date When was it ?\n"
    task = get_task("trec")
    examples = task.read(write_text(tmp_path, text, "train.txt"), "train")
    assert task.labels == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    assert [(e.text_a, task.labels[e.label]) for e in examples] == [
        ("How did serfdom develop ?", "DESC"),
        ("Who killed Gandhi ?", "HUM"),
        ("When was it ?", "NUM"),
    ]
    for bad_line, message in [
        ("no label here", "expected 'COARSE:fine question'"),
        ("XYZ:abc What ?", "unknown label"),
    ]:
        path = write_text(tmp_path, f"HUM:ind Who ?\n{bad_line}\n", "bad.txt")
        with pytest.raises(DataError, match=f"{path}:2: {message}"):
            task.read(path, "train")


def test_generic_csv_task_infers_sorted_labels_from_train(tmp_path):
    write_text(
        tmp_path, 'title,body,topic\n"Goal, late",Match report,sports\nRates up,Bank news,business\n', "train.csv"
    )
    write_text(tmp_path, "title,body,topic\nNew coach,Club news,sports\nOdd,Text,weather\n", "dev.csv")
    write_text(tmp_path, "title,body\nA title,A body\n", "test.csv")
    files = {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"}
    task = make_generic_task("news", files, "title", "topic", text_pair_column="body", data_dir=str(tmp_path))
    assert task.labels == ("business", "sports")
    examples = task.read(str(tmp_path / "train.csv"), "train")
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [
        ("Goal, late", "Match report", 1),
        ("Rates up", "Bank news", 0),
    ]
    assert task.read(str(tmp_path / "test.csv"), "test")[0].label is None  # no label column: unlabeled
    with pytest.raises(DataError, match=f"{tmp_path / 'dev.csv'}:3: unknown label 'weather'"):
        task.read(str(tmp_path / "dev.csv"), "dev")


def test_generic_jsonl_task_and_argument_errors(tmp_path):
    path = write_jsonl(tmp_path, [{"q": "Is it?", "answer": True}, {"q": "", "answer": False}])
    task = make_generic_task("yn", {"train": path}, "q", "answer", labels=("false", "true"), file_format="jsonl")
    with pytest.raises(DataError, match=f"{path}:2: empty text in field 'q'"):
        task.read(path, "train")
    with pytest.raises(ValueError, match="give `labels`, or `data_dir`"):
        make_generic_task("yn", {"train": path}, "q", "answer", file_format="jsonl")
    with pytest.raises(ValueError, match="Unknown file_format 'xml'"):
        make_generic_task("yn", {"train": path}, "q", "answer", labels=("a",), file_format="xml")


# === The real data ($FASTFORMERS_DATA_DIR or ../shared/data), read as distributed ===

# task -> {split: examples}, from the data README (COPA: 2 per row; MultiRC: answers, counted here).
REAL_COUNTS = {
    "rte": {"train": 2490, "val": 277, "test": 3000},
    "cb": {"train": 250, "val": 56, "test": 250},
    "copa": {"train": 800, "val": 200, "test": 1000},
    "wic": {"train": 5428, "val": 638, "test": 1400},
    "wsc": {"train": 554, "val": 104, "test": 146},
    "boolq": {"val": 3270, "test": 3245},
    "sst2": {"train": 60614, "dev": 6735},
    "mrpc": {"train": 4076},
    "trec": {"train": 5452, "test": 500},
    "multirc": {"train": 27243, "val": 4848, "test": 9693},
}


@pytest.fixture
def real_data_dir():
    """`default_data_dir()` ($FASTFORMERS_DATA_DIR or ../shared/data); missing: a failure under CI, else a skip."""
    path = default_data_dir()
    if not os.path.isdir(path):
        message = f"the benchmark data is not at {path} (set FASTFORMERS_DATA_DIR)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {message}")
        pytest.skip(message)
    return path


@pytest.mark.parametrize("name", sorted(REAL_COUNTS))
def test_real_data_counts(name, real_data_dir):
    task = get_task(name)
    for split, count in REAL_COUNTS[name].items():
        examples = task.read(os.path.join(real_data_dir, task.files[split]), split)
        assert len(examples) == count, (name, split)
        labels = {e.label for e in examples}
        if split == "test" and name != "trec":
            assert labels == {None}, (name, split)
        else:
            assert labels == set(range(len(task.labels))), (name, split)
    if name == "multirc":
        train = task.read(os.path.join(real_data_dir, task.files["train"]), "train")
        assert len({e.meta["idx"] for e in train}) == 456  # paragraphs
        assert len({e.group for e in train}) == 5131  # questions
    if name == "copa":
        assert len({e.group for e in task.read(os.path.join(real_data_dir, task.files["val"]), "val")}) == 100
