"""Multi-instance inference: N worker processes, each with its own session on its own cores.

One session with many threads scales poorly on small batches (each GEMM is too
small to split well), so throughput comes from several sessions side by side,
each pinned to cores of its own (FastFormers' multi-instance setting).

Why processes, queues and a poll loop rather than `concurrent.futures.ProcessPoolExecutor`:
an executor's `initializer` gets the same arguments in every worker and its
workers start on demand, so each worker's own CPU set (pinned before its
session opens, reported back), a model that fails to open failing the
constructor rather than the first request, and a worker that exits when its
parent is killed (`_next_task` polls `os.getppid`; an executor's worker waits
on its call queue) would each need the executor's internals. The behaviours
are tested in `tests/runtime/test_multi_instance.py`.
"""

import multiprocessing
import os
import queue
import tempfile
import traceback
import weakref

from fastformers_tf.cpu import processors
from fastformers_tf.runtime.base import Predictor


def physical_cores(cpus=None, cpuinfo=None):
    """One logical CPU per physical core among `cpus` (default: those this process may run on).

    Cores are told apart by `(physical id, core id)` in /proc/cpuinfo, so SMT
    siblings (hyperthreads) count once. Where cpuinfo does not say (some VMs,
    other architectures), every logical CPU counts as a core.

    Args:
        cpus: logical CPU ids to consider (default `os.sched_getaffinity(0)`).
        cpuinfo: the text of /proc/cpuinfo (default: read it).
    """
    cpus = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    core_of = {}
    for fields in processors(cpuinfo):
        if "processor" in fields and "core id" in fields:
            core_of[int(fields["processor"])] = (fields.get("physical id", "0"), fields["core id"])
    first = {}
    for cpu in cpus:
        first.setdefault(core_of.get(cpu, ("cpu", cpu)), cpu)
    return sorted(first.values())


def plan_cores(instances, threads, cpus=None, cpuinfo=None, allow_oversubscription=False):
    """The CPU set of each of `instances` workers with `threads` threads each.

    By default `instances * threads` may not exceed the physical cores: GEMM
    kernels keep a core's vector units busy, so two threads on SMT siblings
    run at about one core's speed, and more threads than cores means the OS
    time-slices spinning thread pools, which shows as latency spikes. Each
    worker then gets `threads` distinct physical cores (one logical CPU each).
    With `allow_oversubscription`, workers take consecutive slices of all
    allowed logical CPUs, wrapping around.
    """
    if instances < 1 or threads < 1:
        raise ValueError(f"instances and threads must be >= 1, got {instances} and {threads}.")
    cores = physical_cores(cpus, cpuinfo)
    needed = instances * threads
    if needed <= len(cores):
        return [tuple(cores[i * threads : (i + 1) * threads]) for i in range(instances)]
    if not allow_oversubscription:
        raise ValueError(
            f"{instances} instances x {threads} threads = {needed} exceeds the {len(cores)} physical cores "
            f"this process may use (CPUs {cores}); lower instances or threads, or allow oversubscription."
        )
    logical = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    return [tuple(logical[(i * threads + t) % len(logical)] for t in range(threads)) for i in range(instances)]


MAIN_GUARD_MESSAGE = (
    "Workers are spawned processes that re-import the main script: a script that creates a multi-instance "
    'predictor (load_predictor(..., instances=N) with N > 1) must do so under `if __name__ == "__main__":`.'
)


ERROR_FILE_ENV = "FASTFORMERS_WORKER_ERROR_FILE"
# How often an idle worker checks that its parent is still alive.
PARENT_CHECK_S = 1.0


def _report_from_worker(message):
    path = os.environ.get(ERROR_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(message + "\n")


def _next_task(tasks, parent):
    """The next task; None (stop) also when the parent process has died without sending one.

    A parent killed by SIGKILL or SIGTERM never reaches `_shutdown`, and
    `daemon=True` only covers a normal exit: without this check its workers
    would wait on the queue forever.
    """
    while True:
        try:
            return tasks.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if os.getppid() != parent:
                return None


def _worker(factory, cpus, tasks, results, worker_id, parent):
    # Pin first: thread pools created by the session afterwards inherit the CPU set.
    os.sched_setaffinity(0, cpus)
    try:
        predictor = factory()
    except BaseException:  # noqa: B036  (reported to the parent, which raises it)
        results.put(("failed", worker_id, traceback.format_exc()))
        return
    results.put(("ready", worker_id, (sorted(os.sched_getaffinity(0)), predictor.input_names, predictor.output_names)))
    while (task := _next_task(tasks, parent)) is not None:
        index, inputs = task
        try:
            results.put(("done", index, predictor.forward(inputs)))
        except Exception:
            results.put(("error", index, traceback.format_exc()))
    if os.getppid() != parent:
        results.cancel_join_thread()  # nobody reads the results any more: exit without flushing them


def _shutdown(workers, tasks):
    for _ in workers:
        tasks.put(None)
    for worker in workers:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.terminate()


class MultiInstancePredictor(Predictor):
    """Runs batches on `instances` worker processes, each with its own backend session.

    The parent tokenizes, sorts by length and pads (as every `Predictor`);
    workers (spawned, not forked: a forked ONNX Runtime, TFLite or TensorFlow
    state is not safe to reuse) take batches from a shared queue as they come
    free, and results are put back in input order. Each worker is pinned to
    its own cores with `os.sched_setaffinity` before it opens its session.

    Args:
        factory: a picklable callable, called once in each worker with no
            arguments, returning a `Predictor` that runs on `threads` threads
            (e.g. `functools.partial(open_backend, "onnx", path, threads=1)`).
        tokenizer: the model's transformers tokenizer (used in the parent).
        labels: label names, index-aligned with the logits.
        instances: N, worker processes.
        threads: T, threads per worker (what `factory` was told to use).
        max_length: longer texts are truncated to this many tokens (None: 128,
            or the model's `max_tokens` when lower).
        batch_size: texts per forward pass.
        cpus: logical CPUs to use (default: this process's affinity).
        allow_oversubscription: allow N x T above the physical cores.
        timeout: seconds to wait for a worker to start or answer.
        max_tokens: the longest input the model takes, checked against `max_length`.

    Attributes:
        worker_cpus: the CPU set each worker reported from `os.sched_getaffinity`.

    Example:
        >>> factory = functools.partial(open_backend, "onnx", "export/model.int8.onnx", threads=1)
        >>> with MultiInstancePredictor(factory, tokenizer, instances=2, threads=1) as predictor:
        ...     predictor.predict(texts)
    """

    def __init__(
        self,
        factory,
        tokenizer=None,
        labels=None,
        instances=2,
        threads=1,
        max_length=None,
        batch_size=32,
        cpus=None,
        allow_oversubscription=False,
        timeout=600,
        max_tokens=None,
    ):
        super().__init__(tokenizer, labels, max_length, batch_size, max_tokens)
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            _report_from_worker(MAIN_GUARD_MESSAGE)  # we are a worker, re-running the parent's script
            raise RuntimeError(MAIN_GUARD_MESSAGE)
        self.instances, self.threads, self.timeout = instances, threads, timeout
        self.planned_cpus = plan_cores(instances, threads, cpus, allow_oversubscription=allow_oversubscription)
        context = multiprocessing.get_context("spawn")
        self._tasks, self._results = context.Queue(), context.Queue()
        self._workers = [
            context.Process(
                target=_worker, args=(factory, cpus, self._tasks, self._results, i, os.getpid()), daemon=True
            )
            for i, cpus in enumerate(self.planned_cpus)
        ]
        self._finalizer = weakref.finalize(self, _shutdown, self._workers, self._tasks)
        # A worker that fails before it can use the queue (while re-importing the main script)
        # leaves its error in this file, which the environment names to it.
        fd, self._error_file = tempfile.mkstemp(prefix="fastformers-worker-", suffix=".err")
        os.close(fd)
        weakref.finalize(self, os.remove, self._error_file)
        previous = os.environ.get(ERROR_FILE_ENV)
        os.environ[ERROR_FILE_ENV] = self._error_file
        try:
            for worker in self._workers:
                worker.start()
        finally:
            if previous is None:
                del os.environ[ERROR_FILE_ENV]
            else:
                os.environ[ERROR_FILE_ENV] = previous
        self.worker_cpus = [None] * instances
        for _ in range(instances):
            kind, worker_id, payload = self._receive("start")
            if kind == "failed":
                self.close()
                raise RuntimeError(f"Worker {worker_id} failed to open its session:\n{payload}")
            self.worker_cpus[worker_id], self.input_names, self.output_names = payload

    def _receive(self, waiting_for):
        """The next message from a worker; raises if a worker died or nothing came within `timeout`."""
        waited = 0.0
        while True:
            try:
                return self._results.get(timeout=1.0)
            except queue.Empty:
                waited += 1.0
            dead = [(i, worker.exitcode) for i, worker in enumerate(self._workers) if not worker.is_alive()]
            if dead or waited >= self.timeout:
                self.close()
                if dead:
                    reason = ", ".join(f"worker {i} exited with code {code}" for i, code in dead)
                    if waiting_for == "start":
                        with open(self._error_file, encoding="utf-8") as f:
                            own = " ".join(dict.fromkeys(line.strip() for line in f if line.strip()))
                        reason += f" before opening its session: {own or 'its error, if any, is printed above.'}"
                else:
                    reason = f"no answer within {self.timeout} s"
                raise RuntimeError(f"Multi-instance inference stopped while waiting for {waiting_for}: {reason}")

    def forward_batches(self, batches):
        if not self._finalizer.alive:
            raise RuntimeError("This MultiInstancePredictor is closed.")
        batches = list(batches)
        for index, inputs in enumerate(batches):
            self._tasks.put((index, inputs))
        outputs = {}
        for _ in batches:
            kind, index, payload = self._receive("results")
            if kind == "error":
                self.close()
                raise RuntimeError(f"A worker failed on batch {index}:\n{payload}")
            outputs[index] = payload
        return [outputs[i] for i in range(len(batches))]

    def forward(self, inputs):
        return self.forward_batches([inputs])[0]

    def close(self):
        """Stops the workers (also done when the predictor is garbage collected)."""
        self._finalizer()
