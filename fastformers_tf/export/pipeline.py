"""Export a Keras model to every serving format at once, into one export folder.

The folder's layout belongs to `fastformers_tf.artifacts` (`EXPORT_FILES`,
`export.json`, `manifest.json`); it is written through `artifacts.writing`, so
a re-export replaces the whole folder only once complete, and an interrupted
one leaves the previous export as it was. `export.json` holds the resolved
options, label names, the longest input, the files by `backend/precision`,
fused-op counts and each file's parity with Keras; `load_predictor(folder,
backend=..., precision=...)` serves only the files it lists, checksums verified.
"""

import dataclasses
import logging
import os
import shutil

import onnx

from fastformers_tf import artifacts
from fastformers_tf.artifacts import EXPORT_FILES, EXPORT_INFO_FILE, EXPORT_KIND, HF_CONFIG_FILE, RAW_ONNX_FILE
from fastformers_tf.export.fp16 import convert_fp16
from fastformers_tf.export.layernorm import unfuse_skip_layernorm
from fastformers_tf.export.onnx import DEFAULT_OPSET, check_onnx, export_onnx, op_counts, optimize_onnx
from fastformers_tf.export.parity import compare
from fastformers_tf.export.qdq import export_qdq
from fastformers_tf.export.quantize import classifier_nodes, default_reduce_range, quantize_int8
from fastformers_tf.models.encoder import TransformerEncoder, encoder_of

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ExportOptions:
    """What `export_all` writes.

    Args:
        opset: ONNX opset for tf2onnx.
        atol: largest difference from Keras allowed for fp32 files (ONNX
            before and after fusion, TFLite); beyond it the export fails.
        int8: write the INT8 ONNX model.
        int8_mode: "dynamic"; "static" (ONNX QDQ by onnxruntime's quantizer,
            TFLite full integer by its converter, both calibrated on
            `calibration_batches`); or "qat": the fake quantization of a
            quantization-aware model (`fastformers_tf.quantize`) as ONNX QDQ
            and TFLite int8 (a float model is first calibrated on
            `calibration_batches`: post-training, with the same quantizers).
        per_channel: per-channel int8 weight scales.
        reduce_range: 7-bit int8 weights; None picks it from the CPU flags.
        exclude_classifier: keep the output Dense layer in fp32.
        unfuse_skip_layernorm: write the int8 model's `SkipLayerNormalization`
            nodes back as `Add` + `LayerNormalization`, faster on CPU (see
            `export.layernorm`); `OnnxPredictor` keeps them apart on CPU.
        fp16: write the FP16 ONNX model (for GPUs).
        tflite: write TFLite fp32 and INT8 (by `int8_mode`) models.
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


def export_all(model, output_dir, tokenizer=None, options=None, calibration_batches=None, source=None):
    """Exports `model` as the `options` say; returns the report written to `export.json`.

    fp32 exports are checked against Keras (`ParityError` past `options.atol`);
    int8 and fp16 ones are reported (largest difference, argmax agreement on
    sample batches), not judged: judge them on task data, e.g.
    `tools/evaluate.py --model=DIR --precision=int8 --reference=...`.

    Args:
        model: a task model or `TransformerEncoder`.
        output_dir: the export folder; a previous export there is replaced
            as a whole, once this one is complete.
        tokenizer: saved beside the files, for `load_predictor`.
        options: `ExportOptions`.
        calibration_batches: input dicts of real text batches, for static int8.
        source: where the model came from; a `recipe.yaml` there is copied along.
    """
    options = options or ExportOptions()
    if options.int8_mode not in INT8_MODES:
        raise ValueError(f"Unknown int8_mode {options.int8_mode!r}; expected one of {INT8_MODES}.")
    if options.reduce_range is None:
        options = dataclasses.replace(options, reduce_range=default_reduce_range())
    with artifacts.writing(output_dir, EXPORT_KIND) as folder:
        report = _export_into(folder, model, options, calibration_batches)
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)
        if source and os.path.isfile(os.path.join(source, "recipe.yaml")):
            shutil.copy(os.path.join(source, "recipe.yaml"), folder)  # the folder is still private: no rename needed
        report = {
            "source": source,
            "model_class": type(model).__name__,
            "labels": getattr(model, "labels", None),
            "max_tokens": encoder_of(model).config.max_tokens,
            "options": dataclasses.asdict(options),
            **report,
        }
        artifacts.write_json(os.path.join(folder, EXPORT_INFO_FILE), report)
        artifacts.write_json(os.path.join(folder, HF_CONFIG_FILE), hf_export_config(model))
    return report


INT8_MODES = ("dynamic", "static", "qat")
HF_CLASSES = {"bert": "Bert", "roberta": "Roberta", "mpnet": "MPNet"}


def hf_export_config(model):
    """The Hugging Face `config.json` of an export folder: what optimum and `transformers.pipeline` read.

    The family's `model_type` and sizes (a pruned model's per-layer sizes
    under `fastformers_layers`, see `EncoderConfig.to_hf`), the architecture
    (`<Family>ForSequenceClassification` for a classifier, `<Family>Model`
    for an encoder) and, for a classifier, `id2label` / `label2id`.
    """
    config = encoder_of(model).config
    hf = config.to_hf(per_layer=True)
    prefix = HF_CLASSES[config.family]
    if isinstance(model, TransformerEncoder):
        hf["architectures"] = [f"{prefix}Model"]
        return hf
    if "span_masks" in model.input:  # span classifiers have no Hugging Face class
        return hf
    labels = getattr(model, "labels", None)
    names = list(labels) if labels else [f"LABEL_{i}" for i in range(int(model.output.shape[-1]))]
    hf["architectures"] = [f"{prefix}ForSequenceClassification"]
    hf["id2label"] = {str(i): name for i, name in enumerate(names)}
    hf["label2id"] = {name: i for i, name in enumerate(names)}
    return hf


def _quantized_pair(model, options, calibration_batches):
    """`(float model, quantization-aware model or None)`: what the fp32 and the INT8 files are made from."""
    from fastformers_tf.quantize import dequantize_model, is_quantized, quantize_model

    int8 = options.int8 or options.tflite  # TFLite always writes its INT8 file beside the fp32 one
    qat = int8 and options.int8_mode == "qat"
    if not is_quantized(model):
        if not qat:
            return model, None
        if not calibration_batches:
            raise ValueError(
                "int8_mode='qat' on a float model needs calibration_batches (or export a model distilled with "
                "distill.quantize_aware)."
            )
        logger.info("Not quantization-aware: calibrating its quantizers (post-training static INT8).")
        return model, quantize_model(model, calibration_batches)
    if int8 and not qat:
        raise ValueError(
            f"The model is quantization-aware: export its INT8 files with int8_mode='qat', not {options.int8_mode!r}."
        )
    return dequantize_model(model), model


def _export_into(folder, model, options, calibration_batches):
    files, counts, parity = {}, {}, {}
    model, quantized = _quantized_pair(model, options, calibration_batches)

    def file(backend, precision):
        files[f"{backend}/{precision}"] = EXPORT_FILES[backend, precision]
        return os.path.join(folder, EXPORT_FILES[backend, precision])

    raw, fused = os.path.join(folder, RAW_ONNX_FILE), file("onnx", "fp32")
    export_onnx(model, raw, options.opset)
    parity["onnx"] = check_onnx(model, raw, options.atol)
    counts["onnx/fp32"] = optimize_onnx(raw, fused, model, require_fusion=options.require_fusion)
    parity["onnx/fp32"] = check_onnx(model, fused, options.atol)

    if options.int8 and quantized is not None:
        path = file("onnx", "int8")
        counts["onnx/int8"] = export_qdq(quantized, path, options.opset)
        parity["onnx/int8"] = _compare(quantized, "onnx", path)
    elif options.int8:
        path = file("onnx", "int8")
        exclude = classifier_nodes(fused) if options.exclude_classifier else []
        counts["onnx/int8"] = quantize_int8(
            fused, path, options.int8_mode, options.per_channel, options.reduce_range, exclude, calibration_batches
        )
        if options.unfuse_skip_layernorm:
            proto = unfuse_skip_layernorm(onnx.load(path))
            onnx.save(proto, path)
            counts["onnx/int8"] = op_counts(proto)
        parity["onnx/int8"] = _compare(model, "onnx", path)

    if options.fp16:
        path = file("onnx", "fp16")
        counts["onnx/fp16"] = convert_fp16(fused, path)
        parity["onnx/fp16"] = _compare(model, "onnx", path)

    report = {"files": files, "op_counts": counts, "parity": parity}
    if options.tflite:
        from fastformers_tf.export.tflite import check_tflite, export_tflite, float_ops

        path = export_tflite(model, file("tflite", "fp32"))
        parity["tflite/fp32"] = check_tflite(model, path, options.atol)
        static = calibration_batches if options.int8_mode == "static" else None
        int8_source = model if quantized is None else quantized
        path = export_tflite(int8_source, file("tflite", "int8"), int8=True, calibration_batches=static)
        parity["tflite/int8"] = _compare(int8_source, "tflite", path)
        report["tflite_float_ops"] = float_ops(path)
    return report


def _compare(model, backend, path):
    from fastformers_tf.runtime.load import open_backend

    return compare(model, open_backend(backend, path))
