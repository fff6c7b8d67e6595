"""Training under `tf.distribute`: the strategy a recipe names, and which worker writes the run's files.

`recipe.strategy` (the tools' `--strategy`):

- "default": one device (no strategy);
- "mirrored": `MirroredStrategy` over this machine's GPUs (one CPU replica
  without a GPU);
- "multi_worker": `MultiWorkerMirroredStrategy` over the machines listed in
  the `TF_CONFIG` environment variable; every worker runs the same command.

Batch sizes in the recipe are global: each step's batch is split among the
replicas, so a run gives the same updates on any number of replicas. Only
the chief writes checkpoints, `metrics.json` and `recipe.yaml`.
"""

import contextlib
import json
import os
import tempfile

from fastformers_tf.backend import tf
from fastformers_tf.recipe import STRATEGIES, RecipeError


def make_strategy(name):
    """The `tf.distribute.Strategy` named `name` (one of `STRATEGIES`)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise RecipeError(
                "strategy=multi_worker reads the cluster from the TF_CONFIG environment variable, which is not set."
            )
        try:
            json.loads(config)
        except json.JSONDecodeError as e:
            raise RecipeError(f"TF_CONFIG is not JSON ({e.msg} at column {e.colno}).") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise RecipeError(f"strategy={name!r}; expected one of {list(STRATEGIES)}.")


def is_chief(strategy):
    """Whether this process writes the run's files: always, but under a multi-worker strategy only the chief.

    The chief is the `chief` task when `TF_CONFIG` has one, else worker 0 (TensorFlow's rule).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "chief"):
        return True
    jobs = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs


def distributed(dataset):
    """`dataset` sharded by element when a multi-worker strategy distributes it.

    The batches come from a Python generator, which has no files to shard by;
    every worker generates the same batches (same seed) and keeps its part of
    each global batch.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


@contextlib.contextmanager
def best_folder(output_dir, chief):
    """Where `KeepBest` saves during training: `<output_dir>/best` on the chief, else a temporary folder.

    Every worker saves at the same epochs (a multi-worker save runs collective
    ops that all workers must join); only the chief's copy is kept, and
    another worker's folder is removed when the block ends.
    """
    if chief:
        yield os.path.join(output_dir, "best")
        return
    with tempfile.TemporaryDirectory(prefix="fastformers-worker-best-", ignore_cleanup_errors=True) as folder:
        yield folder
