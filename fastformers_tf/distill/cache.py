"""Teacher logits computed once per example and cached on disk.

The key is the teacher's weights (a sha256 over every weight's bytes), the
task, the source (split and selection), the teacher's tokenizer and max
length, and the examples' ids and text, not the data file's path or time: a
data folder provisioned again (each session here) holds the same examples
under new times, and the logits of the same text stay valid. So epochs
after the first, a re-distillation after pruning and a rerun all skip the
teacher; any change to the teacher or the data computes them again. Logits
are per example, not per token: the student may use another tokenizer.
"""

import hashlib
import io
import json
import logging
import os

import numpy as np

from fastformers_tf.artifacts import write_bytes

logger = logging.getLogger(__name__)

_WEIGHT_DIGESTS = {}  # id(model) -> (model, digest); the model is kept so that its id is not reused


def weights_digest(model):
    """sha256 over a model's weights (names, shapes and bytes), computed once per model object."""
    known = _WEIGHT_DIGESTS.get(id(model))
    if known is not None and known[0] is model:
        return known[1]
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{weight.name}:{value.shape}:{value.dtype}".encode())
        digest.update(value.tobytes())
    _WEIGHT_DIGESTS[id(model)] = (model, digest.hexdigest())
    return digest.hexdigest()


def _examples_digest(examples):
    digest = hashlib.sha1()
    for e in examples:
        digest.update(json.dumps([e.guid, e.text_a, e.text_b]).encode())
    return digest.hexdigest()


def cache_key(teacher, tokenizer, data, max_length):
    """The hex key of `data`'s teacher logits (see the module doc)."""
    parts = [
        weights_digest(teacher),
        data.task.name,
        data.key,
        type(tokenizer).__name__,
        tokenizer.name_or_path,
        len(tokenizer),
        max_length,
        _examples_digest(data.examples),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def run_teacher(teacher, data, batch_size, progress=True):
    """The teacher's logits `[n, C]` over `data`, in example order (the forward pass the cache saves)."""
    from fastformers_tf.runtime.keras_predictor import KerasPredictor

    predictor = KerasPredictor(teacher, batch_size=batch_size)
    description = f"teacher on {data.task.name}/{data.key}" if progress else None
    logits = predictor.logits_of(data.features, data.pad_id, batch_size, description)
    return np.asarray(logits, np.float32).reshape(len(data), -1)


def teacher_logits(teacher, tokenizer, data, max_length, batch_size=64, cache_dir=None, progress=True):
    """`(logits [n, C], cached)`: `data`'s teacher logits, from the cache when there.

    Args:
        teacher: the teacher task model.
        tokenizer: the teacher's tokenizer (`data` is tokenized with it).
        data: a `TaskData` (a split or a transfer source).
        max_length: the teacher's max length `data` was tokenized to.
        batch_size: teacher batch size on a cache miss.
        cache_dir: folder of `.npy` files (None: no disk cache).
    """
    file = None
    if cache_dir:
        key = cache_key(teacher, tokenizer, data, max_length)
        file = os.path.join(cache_dir, f"{data.task.name}-{data.key}-{key}.npy")
        if os.path.isfile(file):
            logits = np.load(file)
            if logits.shape[0] == len(data):
                return logits, True
            logger.warning("%s holds %d rows for %d examples; computing again.", file, logits.shape[0], len(data))
    logits = run_teacher(teacher, data, batch_size, progress)
    if file:
        buffer = io.BytesIO()
        np.save(buffer, logits)
        write_bytes(file, buffer.getvalue())
    return logits, False
