"""Benchmark: Keras fp32 vs ONNX Runtime (fp32, int8) vs TFLite (fp32, int8) on one model.

  python tools/bench_backends.py --model=all-MiniLM-L6-v2 --output_dir=runs/bench/minilm

Exports the model (fused fp32 ONNX, dynamic int8 ONNX, TFLite fp32 and
dynamic-range int8) into --output_dir/export, plus (beside it) the int8 ONNX model that keeps
onnxruntime's fused SkipLayerNormalization (what the export writes back as
Add + LayerNormalization), then times every backend in this one process,
taking turns: median/p90 latency at batch 1 and throughput at batch 32, at each
sequence length, as ratios to Keras `tf.function` fp32, and the share of the
int8 GEMM peak (measured in the same run) that each int8 path reaches.
Writes bench.json next to the exports.
"""

import os

from absl import flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "all-MiniLM-L6-v2", "Pretrained encoder name or a saved task model directory.")
flags.DEFINE_string("output_dir", "runs/bench/minilm", "Where the exports and bench.json go.")
flags.DEFINE_list("seq_lens", ["32", "128"], "Sequence lengths.")
flags.DEFINE_integer("threads", 2, "Intra-op threads for every backend.", lower_bound=1)
flags.DEFINE_integer("latency_iterations", 50, "Timed batch-1 calls per backend and length.", lower_bound=1)
flags.DEFINE_integer("rounds", 5, "The backends take turns this many times per length.", lower_bound=1)

SKIP_LAYER_NORM_INT8 = "model.int8.skip_layernorm.onnx"


def main(argv):
    del argv
    import fastformers_tf as ff
    from fastformers_tf.artifacts import EXPORT_FILES, write_json
    from fastformers_tf.bench.backends import benchmark, format_table
    from fastformers_tf.export.pipeline import ExportOptions, export_all
    from fastformers_tf.export.quantize import quantize_int8
    from fastformers_tf.runtime.keras_predictor import KerasPredictor, set_keras_threads
    from fastformers_tf.runtime.load import open_backend

    set_keras_threads(FLAGS.threads)
    model = ff.from_pretrained(FLAGS.model)
    if isinstance(model, ff.TransformerEncoder):
        model = ff.TextClassifier(model, num_classes=2)  # timing does not depend on the head's weights
    export_dir = os.path.join(FLAGS.output_dir, "export")
    export_all(model, export_dir, options=ExportOptions(int8=True, tflite=True))
    skip_layernorm_int8 = os.path.join(FLAGS.output_dir, SKIP_LAYER_NORM_INT8)
    quantize_int8(os.path.join(export_dir, EXPORT_FILES["onnx", "fp32"]), skip_layernorm_int8)
    files = {
        "onnx fp32 (fused)": ("onnx", os.path.join(export_dir, EXPORT_FILES["onnx", "fp32"])),
        "onnx int8 (SkipLayerNorm)": ("onnx", skip_layernorm_int8),
        "onnx int8": ("onnx", os.path.join(export_dir, EXPORT_FILES["onnx", "int8"])),
        "tflite fp32": ("tflite", os.path.join(export_dir, EXPORT_FILES["tflite", "fp32"])),
        "tflite int8": ("tflite", os.path.join(export_dir, EXPORT_FILES["tflite", "int8"])),
    }
    backends = {"keras fp32": KerasPredictor(model, threads=FLAGS.threads).forward}
    for name, (backend, path) in files.items():
        backends[name] = open_backend(backend, path, threads=FLAGS.threads).forward
    result = benchmark(
        backends,
        model.encoder.config,
        tuple(model.input),
        seq_lens=[int(t) for t in FLAGS.seq_lens],
        latency_iterations=FLAGS.latency_iterations,
        rounds=FLAGS.rounds,
        threads=FLAGS.threads,
    )
    result["model"] = FLAGS.model
    write_json(os.path.join(FLAGS.output_dir, "bench.json"), result)
    print(format_table(result))


if __name__ == "__main__":
    cli.run(main)
