"""Multi-instance inference: physical cores, core plans, pinned workers, results in input order."""

import functools
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from fastformers_tf.runtime import MultiInstancePredictor, load_predictor, open_backend, physical_cores, plan_cores
from tests.harness import TEXTS


def cpuinfo(cores, threads_per_core):
    """/proc/cpuinfo text of one socket with SMT siblings numbered like Linux does (0..n-1, then n..2n-1)."""
    blocks = []
    for thread in range(threads_per_core):
        for core in range(cores):
            processor = thread * cores + core
            blocks.append(f"processor\t: {processor}\nphysical id\t: 0\ncore id\t\t: {core}\nflags\t\t: avx2\n")
    return "\n".join(blocks)


def test_smt_siblings_count_once():
    text = cpuinfo(cores=4, threads_per_core=2)
    assert physical_cores(range(8), text) == [0, 1, 2, 3]
    assert physical_cores([2, 3, 6, 7], text) == [2, 3]  # 6 and 7 are 2's and 3's siblings
    assert physical_cores([0, 5], text) == [0, 5]


def test_without_core_ids_every_cpu_is_a_core():
    assert physical_cores([0, 1, 2], "processor\t: 0\nprocessor\t: 1\n") == [0, 1, 2]


def test_plans_never_exceed_physical_cores_by_default():
    text = cpuinfo(cores=4, threads_per_core=2)
    assert plan_cores(2, 2, range(8), text) == [(0, 1), (2, 3)]
    assert plan_cores(4, 1, range(8), text) == [(0,), (1,), (2,), (3,)]
    with pytest.raises(ValueError, match=r"3 instances x 2 threads = 6 exceeds the 4 physical cores"):
        plan_cores(3, 2, range(8), text)
    assert plan_cores(3, 2, range(8), text, allow_oversubscription=True) == [(0, 1), (2, 3), (4, 5)]
    with pytest.raises(ValueError, match="must be >= 1"):
        plan_cores(0, 1, range(8), text)


def test_workers_on_their_own_physical_cores_match_one_session(tiny_export):
    """The default plan (no oversubscription): one worker per physical core, each on one thread."""
    cores = physical_cores()
    if len(cores) < 2:
        pytest.skip("one physical core: the default plan has one worker (the next test pins two to one core)")
    texts = TEXTS * 2
    with load_predictor(tiny_export.directory, "onnx", "int8", threads=1, batch_size=2) as single:
        expected = single.logits(texts)
    with load_predictor(tiny_export.directory, "onnx", "int8", threads=1, instances=2, batch_size=2) as multi:
        assert isinstance(multi, MultiInstancePredictor)
        np.testing.assert_array_equal(multi.logits(texts), expected)
        assert [tuple(c) for c in multi.worker_cpus] == [(core,) for core in cores[:2]]


def test_a_script_without_a_main_guard_gets_the_workers_own_error(tiny_export, tmp_path):
    script = tmp_path / "serve.py"
    script.write_text(
        "from fastformers_tf.runtime import load_predictor\n"
        f"predictor = load_predictor({tiny_export.directory!r}, 'onnx', threads=1, instances=2, "
        "allow_oversubscription=True)\n"
        "print(predictor.predict(['a']))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    # Either worker may be the first to fail (both re-import the script), so either may be named.
    assert re.match(
        r"RuntimeError: Multi-instance inference stopped while waiting for start: worker [01] exited ", last
    ), last
    assert "before opening its session: Workers are spawned processes that re-import the main script" in last
    assert 'must do so under `if __name__ == "__main__":`' in last


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_two_pinned_workers_return_single_process_results_in_input_order(tiny_export):
    single = load_predictor(tiny_export.directory, "onnx", "int8", threads=1, batch_size=2)
    texts = TEXTS * 3  # 12 batches of 2, shared between the workers as they come free
    path = os.path.join(tiny_export.directory, "model.int8.onnx")
    factory = functools.partial(open_backend, "onnx", path, threads=1)
    cpus = sorted(os.sched_getaffinity(0))[:2]
    with MultiInstancePredictor(
        factory,
        tiny_export.tokenizer,
        ["x", "y", "z"],
        instances=2,
        threads=1,
        batch_size=2,
        cpus=cpus,
        allow_oversubscription=True,  # two logical CPUs of one core still make a valid test
    ) as multi:
        np.testing.assert_array_equal(multi.logits(texts), single.logits(texts))
        assert multi.predict(texts) == single.predict(texts)
        assert [set(c) for c in multi.worker_cpus] == [{cpus[0]}, {cpus[1]}]  # what each worker's OS reports
    with pytest.raises(RuntimeError, match="closed"):
        multi.logits(texts)


def test_a_worker_that_cannot_open_its_session_is_an_error(tmp_path):
    factory = functools.partial(open_backend, "onnx", str(tmp_path / "missing.onnx"), threads=1)
    with pytest.raises(RuntimeError, match=r"Worker 0 failed to open its session:(.|\n)*missing\.onnx"):
        MultiInstancePredictor(factory, instances=1, threads=1, cpus=[sorted(os.sched_getaffinity(0))[0]])


KILLED_PARENT = """
import os, signal, sys
from fastformers_tf.runtime import load_predictor

if __name__ == "__main__":
    predictor = load_predictor(sys.argv[1], "onnx", threads=1, instances=2, allow_oversubscription=True)
    predictor.predict(["a"])
    print(" ".join(str(worker.pid) for worker in predictor._workers), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no finalizer: the workers are on their own
"""


def running(pid):
    """Whether `pid` is a live process (an exited, unreaped one counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_their_parent_is_killed(tiny_export, tmp_path):
    import time

    script = tmp_path / "killed.py"
    script.write_text(KILLED_PARENT)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, str(script), tiny_export.directory],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert result.returncode == -9
    pids = [int(pid) for pid in result.stdout.split()]
    assert len(pids) == 2
    deadline = time.time() + 20
    while any(running(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(running(pid) for pid in pids)
