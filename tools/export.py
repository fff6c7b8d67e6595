"""Export a model to ONNX (fused fp32, INT8, FP16) and TFLite, each checked against Keras.

  python tools/export.py --model=runs/rte/minilm/best --output_dir=runs/rte/export --int8 --fp16 --tflite
  python tools/predict.py --model=runs/rte/export --backend=onnx --precision=int8 --text="..."

Writes into --output_dir the exported files, the tokenizer, `export.json` (the
resolved options, label names, fused-op counts, parity with Keras) and prints
the fused-op counts and parity diffs. fp32 files that differ from Keras by more
than --atol fail the export; int8/fp16 differences are reported only (judge
them on task data with tools/evaluate.py --reference).
"""

import json

from absl import app, flags

from fastformers_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "model", None, "Model directory (tools/finetune.py's best/), or a packaged model name.", required=True
)
flags.DEFINE_string("output_dir", None, "Export directory to write.", required=True)
flags.DEFINE_boolean("int8", False, "Also write the INT8 ONNX model.")
flags.DEFINE_enum(
    "int8_mode",
    "dynamic",
    ["dynamic", "static", "qat"],
    "INT8 quantization: dynamic; static (post-training, calibrated); qat (the fake quantization of a model distilled "
    "with distill.quantize_aware=true; a float model is calibrated into one first).",
)
flags.DEFINE_string(
    "calibration_file", None, "Static INT8 (and qat on a float model): a UTF-8 file of texts (one per line)."
)
flags.DEFINE_boolean("per_channel", True, "Per-channel INT8 weight scales.")
flags.DEFINE_enum("reduce_range", "auto", ["auto", "true", "false"], "7-bit INT8 weights (auto: without VNNI).")
flags.DEFINE_boolean("exclude_classifier", False, "Keep the output Dense layer in fp32 in the INT8 model.")
flags.DEFINE_boolean(
    "unfuse_skip_layernorm", True, "INT8 model: SkipLayerNormalization as Add + LayerNormalization (faster on CPU)."
)
flags.DEFINE_boolean("fp16", False, "Also write the FP16 ONNX model (for GPUs).")
flags.DEFINE_boolean("tflite", False, "Also write TFLite fp32 and INT8 models (INT8 as --int8_mode says).")
flags.DEFINE_boolean(
    "require_fusion", True, "Fail when BERT/RoBERTa attention does not fuse (--norequire_fusion: warn and write it)."
)
flags.DEFINE_integer("opset", 18, "ONNX opset (the fusion needs >= 17).", lower_bound=13)
flags.DEFINE_float("atol", 1e-4, "Largest difference from Keras allowed for fp32 exports.", lower_bound=0.0)
flags.DEFINE_integer("max_length", 128, "Tokens per calibration text.", lower_bound=2)


def calibration_batches(tokenizer, input_names, batch_size=16):
    """Input batches of the --calibration_file texts, padded as at serving time."""
    from fastformers_tf.data.batching import padded_batches
    from fastformers_tf.data.readers import read_lines
    from fastformers_tf.runtime.base import Predictor

    if not FLAGS.calibration_file:
        raise app.UsageError(
            f"--int8_mode={FLAGS.int8_mode} needs --calibration_file (texts like the ones to serve) for this model."
        )
    texts = [line for _, line in read_lines(FLAGS.calibration_file)]
    if not texts:
        raise app.UsageError(f"--calibration_file={FLAGS.calibration_file} has no texts.")
    features = Predictor(tokenizer, max_length=FLAGS.max_length).tokenize(texts)
    return [inputs for _, inputs in padded_batches(features, input_names, tokenizer.pad_token_id or 0, batch_size)]


def main(argv):
    del argv
    import fastformers_tf as ff
    from fastformers_tf.export import ExportOptions, export_all

    model = ff.from_pretrained(FLAGS.model)
    tokenizer = ff.load_tokenizer(FLAGS.model)
    options = ExportOptions(
        opset=FLAGS.opset,
        atol=FLAGS.atol,
        int8=FLAGS.int8,
        int8_mode=FLAGS.int8_mode,
        per_channel=FLAGS.per_channel,
        reduce_range={"auto": None, "true": True, "false": False}[FLAGS.reduce_range],
        exclude_classifier=FLAGS.exclude_classifier,
        unfuse_skip_layernorm=FLAGS.unfuse_skip_layernorm,
        fp16=FLAGS.fp16,
        tflite=FLAGS.tflite,
        require_fusion=FLAGS.require_fusion,
    )
    from fastformers_tf.quantize import is_quantized

    batches = None
    calibrated = FLAGS.int8_mode == "static" or FLAGS.int8_mode == "qat" and not is_quantized(model)
    if (FLAGS.int8 or FLAGS.tflite) and calibrated:
        batches = calibration_batches(tokenizer, model.input)
    report = export_all(model, FLAGS.output_dir, tokenizer, options, batches, source=FLAGS.model)
    for name, counts in report["op_counts"].items():
        fused = {op: n for op, n in counts.items() if op in FUSED_OPS}
        print(f"{name}: fused ops {json.dumps(fused)}")
    if "tflite_float_ops" in report:
        print(f"tflite/int8: ops left in float {json.dumps(report['tflite_float_ops'])}")
    for name, parity in report["parity"].items():
        agreement = parity["argmax_agreement"]
        print(
            f"{name}: max |diff| vs Keras {parity['max_abs_diff']:.2e}"
            + ("" if agreement is None else f", argmax agreement {agreement:.3f}")
        )
    print(f"wrote {FLAGS.output_dir} ({', '.join(report['files'].values())})")


FUSED_OPS = (
    "Attention",
    "QAttention",
    "MultiHeadAttention",
    "SkipLayerNormalization",
    "EmbedLayerNormalization",
    "LayerNormalization",
    "BiasGelu",
    "FastGelu",
    "Gelu",
    "MatMulInteger",
    "DynamicQuantizeLinear",
)

if __name__ == "__main__":
    cli.run(main)
