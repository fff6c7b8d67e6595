"""The teacher-logits cache key names the teacher's weights and the examples' text, not the data file's time."""

import dataclasses
import os

from fastformers_tf.data import get_task
from fastformers_tf.distill.cache import cache_key, teacher_logits
from tests import tiny
from tests.harness import write_rte


def test_the_same_examples_in_a_file_written_again_keep_their_cached_logits(tmp_path):
    from fastformers_tf.train.tasks import TaskData

    task, teacher, tokenizer = get_task("rte"), tiny.classifier(num_classes=2, seed=0), tiny.tokenizer(str(tmp_path))
    write_rte(tmp_path / "data")

    def read():
        return TaskData.read(task, "val", str(tmp_path / "data"), tokenizer, 16)

    data, cache = read(), str(tmp_path / "logits")
    logits, cached = teacher_logits(teacher, tokenizer, data, 16, cache_dir=cache, progress=False)
    assert not cached
    path = data.path
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**12))  # provisioned again
    again, cached = teacher_logits(teacher, tokenizer, read(), 16, cache_dir=cache, progress=False)
    assert cached and (again == logits).all()
    # Other text, or another teacher, is another key.
    changed = dataclasses.replace(data, examples=data.examples[1:])
    assert cache_key(teacher, tokenizer, changed, 16) != cache_key(teacher, tokenizer, data, 16)
    other = tiny.classifier(num_classes=2, seed=1)
    assert cache_key(other, tokenizer, data, 16) != cache_key(teacher, tokenizer, data, 16)
