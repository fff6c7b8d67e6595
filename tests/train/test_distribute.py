"""Fine-tuning under tf.distribute: two MultiWorkerMirroredStrategy workers on 127.0.0.1 against one process."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from fastformers_tf.recipe import RecipeError, load_recipe
from tests.harness import ROOT, tiny_run_overrides, write_rte

# Fine-tunes with the overrides in argv[1]; saves the model's weights before and after training to argv[2].
WORKER = """
import json, sys
import numpy as np
from fastformers_tf.backend import keras
from fastformers_tf.recipe import load_recipe
from fastformers_tf.train.finetune import finetune

class SaveWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        np.savez(sys.argv[2] + ".begin.npz", *[np.asarray(w) for w in self.model.get_weights()])

    def on_train_end(self, logs=None):
        np.savez(sys.argv[2], *[np.asarray(w) for w in self.model.get_weights()])

finetune(load_recipe("rte", params_override=json.loads(sys.argv[1])), verbose=0, callbacks=[SaveWeights()])
"""


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start(overrides, weights, tf_config=None):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(overrides), str(weights)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    try:
        out, err = process.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err[-3000:]
    return out


def weights(path):
    with np.load(path) as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


@pytest.mark.slow
def test_two_multi_worker_processes_train_as_one_with_the_same_global_batch(tmp_path):
    write_rte(tmp_path / "data")
    common = [
        *tiny_run_overrides(tmp_path),
        "finetune.epochs=1",
        "finetune.batch_size=4",  # global: 2 rows per worker and step
        "finetune.max_length=16",
        "finetune.learning_rate=1e-3",
        "finetune.dropout=0.0",  # dropout masks would differ between one process and two
    ]
    single = start([*common, f"output_dir={tmp_path / 'single'}"], tmp_path / "single.npz")
    finish(single)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    overrides = [*common, f"output_dir={tmp_path / 'multi'}", "strategy=multi_worker"]
    workers = [
        start(overrides, tmp_path / f"worker{i}.npz", {"cluster": cluster, "task": {"type": "worker", "index": i}})
        for i in range(2)
    ]
    outputs = [finish(worker) for worker in workers]
    assert "2 replicas" in outputs[0] and "2 replicas" in outputs[1]

    one, w0, w1 = weights(tmp_path / "single.npz"), weights(tmp_path / "worker0.npz"), weights(tmp_path / "worker1.npz")
    assert len(one) == len(w0) == len(w1) > 10
    for a, b in zip(w0, w1, strict=True):
        np.testing.assert_array_equal(a, b)  # the workers hold one model
    before = weights(f"{tmp_path / 'single.npz'}.begin.npz")
    assert max(float(np.abs(a - b).max()) for a, b in zip(one, before, strict=True)) > 1e-3  # training moved them
    for a, b in zip(before, weights(f"{tmp_path / 'worker1.npz'}.begin.npz"), strict=True):
        np.testing.assert_array_equal(a, b)  # the same start
    for a, b in zip(one, w0, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=0)
    # Only the chief (worker 0) wrote the run's files; the other worker's TensorBoard directory is gone.
    assert sorted(os.listdir(tmp_path / "multi")) == ["best", "logs", "metrics.json", "recipe.yaml"]
    assert [name for name in os.listdir(tmp_path / "multi" / "logs") if "workertemp" in name] == []
    assert json.loads((tmp_path / "multi" / "metrics.json").read_text())["train_examples"] == 24


def test_multi_worker_without_tf_config_is_a_clear_error(monkeypatch):
    from fastformers_tf.train.distribute import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(RecipeError, match="strategy=multi_worker reads the cluster from the TF_CONFIG"):
        make_strategy("multi_worker")
    with pytest.raises(RecipeError, match="strategy='ring' in the recipe .*: it must be one of default, mirrored"):
        load_recipe("rte", params_override=["strategy=ring"])
