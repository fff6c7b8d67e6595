"""Calibrate a cascade of exports on a labeled split and write its folder.

  python tools/cascade.py --task=sst2 \
      --stages=runs/sst2/compress/export/prune:onnx/int8,runs/sst2/compress/export/teacher:onnx/int8 \
      --output=runs/sst2/cascade
  python tools/predict.py --model=runs/sst2/cascade --text="a gripping film"

Each stage (fastest first; FOLDER serves its export's own file, or
FOLDER:BACKEND/PRECISION) is scored once on --split (default: the hold-out the
stages' recipes carve from train, never the split results are reported on),
one text per call as queries are served (--batch_size), and timed at batch 1.
Every threshold setting of a grid is scored from those probabilities; the
cheapest expected cost per query whose metric is within --max_accuracy_drop
points of the last stage alone (and, with --rule=stable, the default, stays
within it when any threshold is raised) is written to --output, with
calibration.png (metric and share of queries per stage against the
threshold) and the numbers in export.json. The folder is served as it is by
tools/predict.py, evaluate.py, serve.py and score.py.
"""

import json

from absl import app, flags

from fastformers_tf import cli
from fastformers_tf.cascade.names import CONFIDENCES, RULES

FLAGS = flags.FLAGS
flags.DEFINE_list("stages", None, "Export folders, fastest first: FOLDER or FOLDER:BACKEND/PRECISION.", required=True)
flags.DEFINE_string("task", None, "Task name.", required=True)
flags.DEFINE_string("split", "holdout", "The labeled split to set the thresholds on.")
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_float("max_accuracy_drop", 1.0, "Points the cascade may lose against the last stage.", lower_bound=0)
flags.DEFINE_enum("confidence", CONFIDENCES[0], list(CONFIDENCES), "How sure a stage is of a text.")
flags.DEFINE_enum(
    "rule",
    RULES[0],
    list(RULES),
    "stable: the cheapest setting that stays within budget when any threshold is raised; cheapest: any within budget.",
)
flags.DEFINE_string("output", None, "The cascade folder to write (default: print the calibration only).")
flags.DEFINE_integer("threads", None, "Threads per stage's session.", lower_bound=1)
flags.DEFINE_integer("timed_examples", 100, "Texts each stage is timed on at batch 1.", lower_bound=1)
flags.DEFINE_integer(
    "batch_size",
    1,
    "Texts per call when scoring --split: 1 as served one by one (dynamic INT8 outputs depend on the batch).",
    lower_bound=1,
)
flags.DEFINE_list(
    "costs_ms",
    None,
    "Each stage's batch-1 ms/query (e.g. from the main job's benchmark.json) instead of timing the stages here.",
)


def costs_ms():
    if FLAGS.costs_ms is None:
        return None
    try:
        costs = [float(c) for c in FLAGS.costs_ms]
    except ValueError:
        raise app.UsageError(f"--costs_ms={','.join(FLAGS.costs_ms)}: give one number per stage.") from None
    if len(costs) != len(FLAGS.stages) or min(costs) <= 0:
        raise app.UsageError(f"--costs_ms needs one positive number per stage ({len(FLAGS.stages)}).")
    return costs


def main(argv):
    del argv
    from fastformers_tf.cascade import calibrate, summary_line

    record = calibrate(
        FLAGS.stages,
        FLAGS.task,
        FLAGS.split,
        FLAGS.data_dir,
        FLAGS.max_accuracy_drop,
        FLAGS.confidence,
        FLAGS.output,
        threads=FLAGS.threads,
        batch_size=FLAGS.batch_size,
        timed_examples=FLAGS.timed_examples,
        costs_ms=costs_ms(),
        rule=FLAGS.rule,
    )
    for stage in record["stages"]:
        print(
            f"stage {stage['folder']} {stage['backend']}/{stage['precision']}: {stage['metric']:.2f} alone, "
            f"{stage['ms_per_query']:.2f} ms/query at batch 1"
        )
    print(summary_line(record))
    if FLAGS.output:
        print(f"wrote {FLAGS.output}; serve it: python tools/predict.py --model={FLAGS.output} --text=...")
    else:
        print(json.dumps(record["picked"]))


if __name__ == "__main__":
    cli.run(main)
