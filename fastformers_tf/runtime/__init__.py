"""Inference on texts: one `Predictor` interface over Keras, ONNX Runtime and TFLite.

Only `KerasPredictor` (and `load_predictor(..., backend="keras")`) imports
TensorFlow; the ONNX Runtime and LiteRT predictors serve with onnxruntime or
ai-edge-litert and the tokenizer alone (`pip install fastformers_tf[serve]`).
"""

from fastformers_tf._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CascadePredictor": "fastformers_tf.runtime.cascade",
        "CascadeWorkers": "fastformers_tf.runtime.cascade",
        "KerasPredictor": "fastformers_tf.runtime.keras_predictor",
        "MultiInstancePredictor": "fastformers_tf.runtime.multi_instance",
        "OnnxPredictor": "fastformers_tf.runtime.onnx_predictor",
        "Predictor": "fastformers_tf.runtime.base",
        "TfLitePredictor": "fastformers_tf.runtime.tflite_predictor",
        "load_predictor": "fastformers_tf.runtime.load",
        "open_backend": "fastformers_tf.runtime.load",
        "physical_cores": "fastformers_tf.runtime.multi_instance",
        "plan_cores": "fastformers_tf.runtime.multi_instance",
    },
)

__all__ = [
    "CascadePredictor",
    "CascadeWorkers",
    "KerasPredictor",
    "MultiInstancePredictor",
    "OnnxPredictor",
    "Predictor",
    "TfLitePredictor",
    "load_predictor",
    "open_backend",
    "physical_cores",
    "plan_cores",
]
