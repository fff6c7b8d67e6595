"""Benchmark on a GPU: Keras fp32 vs onnxruntime fp32 and FP16 (CUDA; TensorRT if present).

Prepared on the CPU; run it where onnxruntime-gpu and a CUDA GPU are (no hub
there: pass a model folder, or let it build a random model of a preset shape,
which times the same):

  python tools/bench_gpu.py --output_dir=runs/bench/gpu --shape=bert-base
  python tools/bench_gpu.py --model=runs/sst2/kd/best --task=sst2 --split=glue_dev --output_dir=runs/bench/gpu-sst2

Exports the model (fused fp32 and FP16 ONNX, fp32 inputs/outputs) into
--output_dir/export, times every backend at each --batch_sizes x --seq_len
(IO binding, taking turns) as ratios to Keras fp32 on the same GPU in the same
run, and with --task/--split scores fp32 and FP16 on task data (agreement and
metric change). --device=cpu dry-runs the same steps on the CPU providers.
Writes bench.json.
"""

import json
import os

from absl import app, flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A task model folder; default: a random model of --shape.")
flags.DEFINE_enum("shape", "minilm", ["minilm", "bert-base", "tiny"], "Shape of the random model (no --model).")
flags.DEFINE_string("output_dir", None, "Where the export and bench.json go.", required=True)
flags.DEFINE_list("batch_sizes", ["1", "32", "256"], "Batch sizes.")
flags.DEFINE_integer("seq_len", 128, "Tokens per query.", lower_bound=2)
flags.DEFINE_integer("iterations", 20, "Timed calls per backend and batch size.", lower_bound=1)
flags.DEFINE_integer("rounds", 4, "The backends take turns this many times.", lower_bound=1)
flags.DEFINE_enum("device", "gpu", ["gpu", "cpu"], "gpu; cpu: a dry run of the same steps.")
flags.DEFINE_boolean("tensorrt", False, "Also time onnxruntime's TensorRT provider.")
flags.DEFINE_boolean("keras", True, "Also time Keras fp32 (the baseline of the ratios).")
flags.DEFINE_string("task", None, "With --split: score fp32 and FP16 on this task's data.")
flags.DEFINE_string("split", None, "The split to score on (sst2: glue_dev, rte: val).")
flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
flags.DEFINE_integer("max_length", 128, "Tokens per example when scoring.", lower_bound=2)

SHAPES = {
    "minilm": dict(vocab_size=30522, num_layers=6, hidden_dim=384, num_heads=12, intermediate_dim=1536),
    "bert-base": dict(vocab_size=30522, num_layers=12, hidden_dim=768, num_heads=12, intermediate_dim=3072),
    "tiny": dict(vocab_size=99, num_layers=2, hidden_dim=32, num_heads=4, head_dim=8, intermediate_dim=37),
}


def random_model():
    import numpy as np

    import fastformers_tf as ff

    model = ff.TextClassifier(ff.TransformerEncoder(**SHAPES[FLAGS.shape]), num_classes=2)
    rng = np.random.default_rng(0)  # non-zero biases: tf2onnx folds additions of zero, which stops the fusion
    model.set_weights([w + rng.normal(0, 0.02, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def main(argv):
    del argv
    import fastformers_tf as ff
    from fastformers_tf.artifacts import write_json
    from fastformers_tf.bench.gpu import fp16_agreement, gpu_backends, time_batches
    from fastformers_tf.cpu import cpu_name
    from fastformers_tf.export.pipeline import ExportOptions, export_all
    from fastformers_tf.models.encoder import encoder_of
    from fastformers_tf.runtime.load import load_predictor
    from fastformers_tf.runtime.providers import providers_for

    providers_for(FLAGS.device, FLAGS.tensorrt)  # no GPU provider: a one-line error before any work
    if bool(FLAGS.task) != bool(FLAGS.split):
        raise app.UsageError("--task and --split go together.")
    model = ff.from_pretrained(FLAGS.model) if FLAGS.model else random_model()
    tokenizer = ff.load_tokenizer(FLAGS.model) if FLAGS.model else None
    export_dir = os.path.join(FLAGS.output_dir, "export")
    export_all(model, export_dir, tokenizer, ExportOptions(fp16=True))
    backends = gpu_backends(export_dir, model if FLAGS.keras else None, FLAGS.device, FLAGS.tensorrt)
    rows = time_batches(
        backends,
        encoder_of(model).config,
        tuple(model.input),
        [int(b) for b in FLAGS.batch_sizes],
        FLAGS.seq_len,
        FLAGS.iterations,
        FLAGS.rounds,
    )
    result = {
        "device": gpu_name() if FLAGS.device == "gpu" else cpu_name(),
        "model": FLAGS.model or FLAGS.shape,
        "rows": rows,
    }
    if FLAGS.task:
        from fastformers_tf.data import get_task
        from fastformers_tf.recipe import default_data_dir
        from fastformers_tf.train.tasks import TaskData

        data = TaskData.read(
            get_task(FLAGS.task), FLAGS.split, FLAGS.data_dir or default_data_dir(), tokenizer, FLAGS.max_length
        )
        fp32, fp16 = (load_predictor(export_dir, "onnx", p, device=FLAGS.device) for p in ("fp32", "fp16"))
        result["accuracy"] = {"task": FLAGS.task, "split": FLAGS.split, **fp16_agreement(data, fp32, fp16)}
    write_json(os.path.join(FLAGS.output_dir, "bench.json"), result)
    print(result["device"])
    for r in rows:
        print(
            f"{r['backend']:<36} batch {r['batch_size']:>4} seq {r['seq_len']}: {r['ms_median']:8.2f} ms "
            f"(p90 {r['ms_p90']:.2f}), {r['queries_per_s']:8.0f} q/s, {r['speedup']:.2f}x"
        )
    if "accuracy" in result:
        print(json.dumps(result["accuracy"]))


def gpu_name():
    import subprocess

    try:
        return subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown GPU (nvidia-smi failed)"


if __name__ == "__main__":
    cli.run(main)
