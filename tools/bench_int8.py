"""Benchmark: every INT8 path of one student on a task, accuracy and speed side by side in one run.

  python tools/bench_int8.py --task=sst2 --split=glue_dev --model=runs/sst2/distill/best \
      --qat_model=runs/sst2/qat/best --output_dir=runs/bench/int8-sst2

Exports --model with dynamic INT8, post-training static INT8 (onnxruntime's
quantizer and the TFLite converter, calibrated on --calibration_examples train
examples) and our fake quantizers calibrated but not trained ("ptq"), and
--qat_model (distilled with distill.quantize_aware=true) as "qat"; every file
as ONNX Runtime and TFLite (see fastformers_tf.bench.int8). Then scores each on
--split and times it at batch 1 for each --seq_lens, the backends taking turns,
against the int8 GEMM peak measured in the same run. Writes bench.json.
"""

import json
import os

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("task", None, "Task name, e.g. sst2, rte.", required=True)
flags.DEFINE_string("split", None, "Split to score on (sst2: glue_dev, rte: val).", required=True)
flags.DEFINE_string("model", None, "The float student: a task model folder.", required=True)
flags.DEFINE_string("qat_model", None, "The same student distilled with distill.quantize_aware=true.")
flags.DEFINE_string("output_dir", None, "Where the exports and bench.json go.", required=True)
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_integer("calibration_examples", 256, "Train examples to calibrate the static paths on.", lower_bound=1)
flags.DEFINE_integer("max_length", 128, "Tokens per example.", lower_bound=2)
flags.DEFINE_list("seq_lens", ["32", "128"], "Sequence lengths of the batch-1 timings.")
flags.DEFINE_integer("threads", 2, "Intra-op threads for every backend.", lower_bound=1)
flags.DEFINE_integer("latency_iterations", 50, "Timed batch-1 calls per backend and length.", lower_bound=1)
flags.DEFINE_integer("rounds", 5, "The backends take turns this many times per length.", lower_bound=1)


def main(argv):
    del argv
    import numpy as np

    import fastformers_tf as ff
    from fastformers_tf.artifacts import write_json
    from fastformers_tf.bench.backends import benchmark, format_table
    from fastformers_tf.bench.int8 import backends_of, export_variants
    from fastformers_tf.data import get_task
    from fastformers_tf.models.encoder import encoder_of
    from fastformers_tf.recipe import default_data_dir
    from fastformers_tf.runtime.load import load_predictor
    from fastformers_tf.train.tasks import TaskData

    task = get_task(FLAGS.task)
    model, tokenizer = ff.from_pretrained(FLAGS.model), ff.load_tokenizer(FLAGS.model)
    qat_model = ff.from_pretrained(FLAGS.qat_model) if FLAGS.qat_model else None
    data_dir = FLAGS.data_dir or default_data_dir()
    train = TaskData.read(task, "train", data_dir, tokenizer, FLAGS.max_length, max_examples=FLAGS.calibration_examples)
    calibration = [train.batch_inputs(model, np.arange(i, min(i + 16, len(train)))) for i in range(0, len(train), 16)]
    folders = export_variants(model, tokenizer, FLAGS.output_dir, calibration, qat_model)
    evals = TaskData.read(task, FLAGS.split, data_dir, tokenizer, FLAGS.max_length)

    predictors, accuracy = {}, {}
    for label, (folder, backend, precision) in backends_of(folders).items():
        predictors[label] = load_predictor(folder, backend, precision, threads=FLAGS.threads)
        accuracy[label], _ = evals.evaluate(predictors[label], 32, progress=False)
        print(f"{label}: {task.name}/{FLAGS.split} {accuracy[label]}", flush=True)
    result = benchmark(
        {label: p.forward for label, p in predictors.items()},
        encoder_of(model).config,
        tuple(model.input),
        seq_lens=[int(t) for t in FLAGS.seq_lens],
        latency_iterations=FLAGS.latency_iterations,
        rounds=FLAGS.rounds,
        threads=FLAGS.threads,
    )
    result.update(
        task=task.name,
        split=FLAGS.split,
        model=FLAGS.model,
        qat_model=FLAGS.qat_model,
        calibration_examples=len(train),
        metrics=accuracy,
    )
    write_json(os.path.join(FLAGS.output_dir, "bench.json"), result)
    print(format_table(result))
    print(json.dumps(accuracy, indent=1))


if __name__ == "__main__":
    cli.run(main)
