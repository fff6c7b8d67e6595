"""Every INT8 path of one model side by side: what each costs in accuracy and how fast it runs.

Paths (each exported by `export_all` into its own folder under the output directory):
  dynamic  ONNX `quantize_dynamic` (per channel) and TFLite dynamic range: activations quantized per call.
  static   ONNX `quantize_static` (QDQ) and TFLite full integer, both calibrated on task text.
  ptq      our fake quantizers (`quantize_model`) calibrated on the same text, not trained: ONNX QDQ and
           TFLite int8 GEMMs; the baseline of what QAT training adds.
  qat      a model distilled with `distill.quantize_aware`: the same quantizers, trained.
"""

import os

from fastformers_tf.export.pipeline import ExportOptions, export_all

MODES = {"dynamic": "dynamic", "static": "static", "ptq": "qat", "qat": "qat"}


def export_variants(model, tokenizer, output_dir, calibration_batches, qat_model=None):
    """`{path name: export folder}`: `model` exported for each INT8 path (and `qat_model` for "qat")."""
    folders = {}
    for name, mode in MODES.items():
        source = qat_model if name == "qat" else model
        if source is None:
            continue
        folder = os.path.join(output_dir, name)
        export_all(
            source,
            folder,
            tokenizer,
            ExportOptions(int8=True, int8_mode=mode, tflite=True),
            calibration_batches=None if name == "dynamic" else calibration_batches,
        )
        folders[name] = folder
    return folders


def backends_of(folders):
    """`{label: (folder, backend, precision)}`: the fp32 files of the first folder, then each path's int8 files."""
    first = next(iter(folders.values()))
    labels = {"onnx fp32": (first, "onnx", "fp32"), "tflite fp32": (first, "tflite", "fp32")}
    for name, folder in folders.items():
        labels[f"onnx int8 {name}"] = (folder, "onnx", "int8")
        labels[f"tflite int8 {name}"] = (folder, "tflite", "int8")
    return labels
