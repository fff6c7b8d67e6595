"""Keras fp32 vs onnxruntime fp32 / FP16 (CUDA, TensorRT) on one GPU, side by side.

Timed on synthetic full-length batches (speed does not depend on token
values) at each batch size, the backends taking turns; ratios to Keras fp32
on the same GPU in the same run. FP16 accuracy is judged against fp32 on task
data by `fp16_agreement`.
"""

import numpy as np

from fastformers_tf.bench.backends import interleaved_timings, synthetic_inputs


def gpu_backends(export_dir, keras_model=None, device="gpu", tensorrt=False):
    """`{label: forward}` over an export folder with fp32 and fp16 ONNX files (and the Keras model, if given)."""
    from fastformers_tf.runtime.keras_predictor import KerasPredictor
    from fastformers_tf.runtime.load import resolve_export
    from fastformers_tf.runtime.onnx_predictor import OnnxPredictor
    from fastformers_tf.runtime.providers import providers_for

    backends = {}
    if keras_model is not None:
        backends["keras fp32"] = KerasPredictor(keras_model).forward  # TensorFlow places it on a visible GPU
    provider_lists = [providers_for(device)] + ([providers_for(device, tensorrt=True)] if tensorrt else [])
    for precision in ("fp32", "fp16"):
        path, _ = resolve_export(export_dir, "onnx", precision)
        for providers in provider_lists:
            predictor = OnnxPredictor(path, providers=providers, io_binding=True)
            backends[f"onnx {precision} {providers[0]}"] = predictor.forward
    return backends


def time_batches(backends, config, input_names, batch_sizes=(1, 32, 256), seq_len=128, iterations=20, rounds=4):
    """Rows of median/p90 milliseconds per batch and queries per second, with ratios to the first backend."""
    rows = []
    for batch_size in batch_sizes:
        inputs = synthetic_inputs(input_names, config.vocab_size, batch_size, seq_len)
        seconds = interleaved_timings(backends, inputs, iterations, rounds)
        for name in backends:
            median = float(np.median(seconds[name]))
            rows.append(
                {
                    "backend": name,
                    "batch_size": batch_size,
                    "seq_len": seq_len,
                    "ms_median": 1e3 * median,
                    "ms_p90": 1e3 * float(np.percentile(seconds[name], 90)),
                    "queries_per_s": batch_size / median,
                }
            )
    for row in rows:
        base = next(r for r in rows if r["batch_size"] == row["batch_size"])
        row["speedup"] = base["ms_median"] / row["ms_median"]
    return rows


def fp16_agreement(data, fp32, fp16, batch_size=32):
    """`{"fp32", "fp16", "agreement"}`: both predictors' task metrics on `data` and their top-class agreement."""
    metrics32, probs32 = data.evaluate(fp32, batch_size, progress=False)
    metrics16, probs16 = data.evaluate(fp16, batch_size, progress=False)
    agreement = float(np.mean(np.argmax(probs32, -1) == np.argmax(probs16, -1)))
    return {"fp32": metrics32, "fp16": metrics16, "agreement": agreement}
