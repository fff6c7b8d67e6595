"""Task data: readers, formulations, the task registry and metrics."""

from fastformers_tf.data.examples import DataError, Example, Task
from fastformers_tf.data.metrics import (
    accuracy,
    exact_match,
    f1_binary,
    f1a,
    macro_f1,
    matthews_corrcoef,
    max_over_answers,
    normalize_answer,
    text_exact_match,
    token_f1,
)
from fastformers_tf.data.tasks import TASKS, get_task, make_generic_task

__all__ = [
    "DataError",
    "Example",
    "TASKS",
    "Task",
    "accuracy",
    "exact_match",
    "f1_binary",
    "f1a",
    "get_task",
    "macro_f1",
    "make_generic_task",
    "matthews_corrcoef",
    "max_over_answers",
    "normalize_answer",
    "text_exact_match",
    "token_f1",
]
