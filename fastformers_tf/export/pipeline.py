"""Export a Keras model to every serving format at once, into one export directory.

The directory holds the files named in `fastformers_tf.runtime.load.EXPORT_FILES`,
the tokenizer files, the training recipe when the model had one, and
`export.json`: the resolved options, label names, fused-op counts and each
file's parity with Keras. `load_predictor(directory, backend=..., precision=...)`
serves it.
"""

import dataclasses
import json
import logging
import os
import shutil

import onnx

from fastformers_tf.export.fp16 import convert_fp16
from fastformers_tf.export.layernorm import unfuse_skip_layernorm
from fastformers_tf.export.onnx import DEFAULT_OPSET, check_onnx, export_onnx, fused_op_counts, optimize_onnx
from fastformers_tf.export.parity import compare
from fastformers_tf.export.quantize import classifier_nodes, default_reduce_range, quantize_int8
from fastformers_tf.runtime.load import EXPORT_FILES, INFO_FILE, RAW_ONNX_FILE

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ExportOptions:
    """What `export_all` writes.

    Args:
        opset: ONNX opset for tf2onnx.
        atol: largest difference from Keras allowed for fp32 files (ONNX
            before and after fusion, TFLite); beyond it the export fails.
        int8: write the INT8 ONNX model.
        int8_mode: "dynamic" or "static" (QDQ, calibrated on `calibration_batches`).
        per_channel: per-channel int8 weight scales.
        reduce_range: 7-bit int8 weights; None picks it from the CPU flags.
        exclude_classifier: keep the output Dense layer in fp32.
        unfuse_skip_layernorm: write the int8 model's `SkipLayerNormalization`
            nodes back as `Add` + `LayerNormalization`, faster on CPU (see
            `export.layernorm`); `OnnxPredictor` keeps them apart on CPU.
        fp16: write the FP16 ONNX model (for GPUs).
        tflite: write TFLite fp32 and dynamic-range INT8 models.
        require_fusion: fail when BERT/RoBERTa attention does not fuse.
    """

    opset: int = DEFAULT_OPSET
    atol: float = 1e-4
    int8: bool = False
    int8_mode: str = "dynamic"
    per_channel: bool = True
    reduce_range: bool = None
    exclude_classifier: bool = False
    unfuse_skip_layernorm: bool = True
    fp16: bool = False
    tflite: bool = False
    require_fusion: bool = True


def _file(output_dir, backend, precision):
    return os.path.join(output_dir, EXPORT_FILES[backend, precision])


def export_all(model, output_dir, tokenizer=None, options=None, calibration_batches=None, source=None):
    """Exports `model` as the `options` say; returns the report written to `export.json`.

    fp32 exports are checked against Keras (`ParityError` past `options.atol`);
    int8 and fp16 ones are reported (largest difference, argmax agreement on
    sample batches), not judged: judge them on task data, e.g.
    `tools/evaluate.py --model=DIR --precision=int8 --reference=...`.

    Args:
        model: a task model or `TransformerEncoder`.
        output_dir: the export directory (created).
        tokenizer: saved beside the files, for `load_predictor`.
        options: `ExportOptions`.
        calibration_batches: input dicts of real text batches, for static int8.
        source: where the model came from; a `recipe.yaml` there is copied along.
    """
    options = options or ExportOptions()
    if options.reduce_range is None:
        options = dataclasses.replace(options, reduce_range=default_reduce_range())
    os.makedirs(output_dir, exist_ok=True)
    files, counts, parity = {}, {}, {}

    raw, fused = os.path.join(output_dir, RAW_ONNX_FILE), _file(output_dir, "onnx", "fp32")
    export_onnx(model, raw, options.opset)
    parity["onnx"] = check_onnx(model, raw, options.atol)
    counts["onnx/fp32"] = optimize_onnx(raw, fused, model, require_fusion=options.require_fusion)
    parity["onnx/fp32"] = check_onnx(model, fused, options.atol)
    files["onnx/fp32"] = os.path.basename(fused)

    if options.int8:
        path = _file(output_dir, "onnx", "int8")
        exclude = classifier_nodes(fused) if options.exclude_classifier else []
        counts["onnx/int8"] = quantize_int8(
            fused, path, options.int8_mode, options.per_channel, options.reduce_range, exclude, calibration_batches
        )
        if options.unfuse_skip_layernorm:
            proto = unfuse_skip_layernorm(onnx.load(path))
            onnx.save(proto, path)
            counts["onnx/int8"] = fused_op_counts(proto)
        parity["onnx/int8"] = _compare(model, "onnx", path)
        files["onnx/int8"] = os.path.basename(path)

    if options.fp16:
        path = _file(output_dir, "onnx", "fp16")
        counts["onnx/fp16"] = convert_fp16(fused, path)
        parity["onnx/fp16"] = _compare(model, "onnx", path)
        files["onnx/fp16"] = os.path.basename(path)

    if options.tflite:
        from fastformers_tf.export.tflite import check_tflite, export_tflite

        path = export_tflite(model, _file(output_dir, "tflite", "fp32"))
        parity["tflite/fp32"] = check_tflite(model, path, options.atol)
        files["tflite/fp32"] = os.path.basename(path)
        path = export_tflite(model, _file(output_dir, "tflite", "int8"), int8=True)
        parity["tflite/int8"] = _compare(model, "tflite", path)
        files["tflite/int8"] = os.path.basename(path)

    if tokenizer is not None:
        tokenizer.save_pretrained(output_dir)
    if source and os.path.isfile(os.path.join(source, "recipe.yaml")):
        shutil.copy(os.path.join(source, "recipe.yaml"), output_dir)
    report = {
        "source": source,
        "model_class": type(model).__name__,
        "labels": getattr(model, "labels", None),
        "options": dataclasses.asdict(options),
        "files": files,
        "fused_op_counts": counts,
        "parity": parity,
    }
    with open(os.path.join(output_dir, INFO_FILE), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    return report


def _compare(model, backend, path):
    from fastformers_tf.runtime.load import open_backend

    return compare(model, open_backend(backend, path))
