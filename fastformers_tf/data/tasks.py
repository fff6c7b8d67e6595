"""The task registry `TASKS`: SuperGLUE (`superglue`), SST-2, MRPC and TREC (`generic`).

`Task.files` are relative to the data directory; `Task.read(path, split)`
takes the joined path. Rows without a label (SuperGLUE test splits) load
with `label=None`; a file mixing labeled and unlabeled rows is an error.
Where a task's rows become `Example`s: `rows` (fields, labels, the file loop),
`superglue` (its readers and submission records), `generic`
(`make_generic_task`, any file with named columns).

Example:
    >>> task = get_task("rte")
    >>> examples = task.read(os.path.join(data_dir, task.files["val"]), "val")
"""

from fastformers_tf.data import superglue
from fastformers_tf.data.generic import TREC_LABELS, make_generic_task, read_trec

TASKS = {
    task.name: task
    for task in (
        *superglue.TASKS,
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
