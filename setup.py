import os

from setuptools import find_packages, setup


def requirements(name):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), encoding="utf-8") as f:
        return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]


# Batch scoring on Apache Beam (tools/score.py). Beam 2.77 wants protobuf < 7 and
# TensorFlow 2.21 >= 6.31.1: both hold with 6.33.
BEAM_REQUIRES = ["apache-beam>=2.77,<3", "protobuf>=6.31.1,<7"]

# What serving an export needs. `./install.sh serve` installs only these (the
# package with --no-deps), since an extra cannot drop TensorFlow from the base.
SERVE_REQUIRES = requirements("requirements-serve.txt")

setup(
    name="fastformers_tf",
    version="0.1.0",
    description="Fast Transformer text classifiers in TensorFlow/Keras: distillation, structured pruning, "
    "ONNX Runtime and TFLite export (after FastFormers, Kim & Awadalla 2020).",
    packages=find_packages(include=["fastformers_tf", "fastformers_tf.*"]),
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow~=2.21.0",
        "tf-keras~=2.21.0",
        "transformers>=4.57,<5",  # 5.x has no TF model classes
        "tf2onnx~=1.17.0",
        "onnx>=1.23,<2",
        "onnxruntime>=1.22,<2",
        # No tensorflow-model-optimization: its quantize_model cannot rewrite our encoder (README, Known
        # limitations); fastformers_tf.quantize does QAT with TensorFlow's own fake-quant ops.
        "absl-py>=1.4,<3",
        "safetensors>=0.4",
        "sympy>=1.12",  # onnxruntime.transformers graph optimizer
        "h5py>=3.10",
        "huggingface-hub>=0.34,<1",
        "numpy>=1.26",
        "pyyaml>=6",
        "tqdm>=4.66",
        "matplotlib>=3.8",  # the pruning sweep and benchmark plots
        "omegaconf>=2.3,<3",
        "tensorboard>=2.20",  # TensorFlow 2.21 no longer depends on it; tf.summary needs it
        # tools/serve.py and tools/load_test.py (also in requirements-serve.txt)
        "starlette>=0.40,<2",
        "uvicorn>=0.30,<1",
        'uvloop>=0.19; sys_platform != "win32"',
        "httptools>=0.6",
        "prometheus-client>=0.20,<1",
        "httpx>=0.27,<1",
    ],
    extras_require={
        "serve": SERVE_REQUIRES,
        "litert": ["ai-edge-litert>=2.3,<3"],
        "beam": BEAM_REQUIRES,
        # GPU serving (runtime.providers): onnxruntime-gpu installs the same `onnxruntime` module as the CPU
        # wheel above, so install this extra in an environment of its own, on a machine with CUDA.
        "gpu": ["onnxruntime-gpu>=1.22,<2"],
        # The serving tests run .tflite files in LiteRT, without TensorFlow; the Beam tests run tools/score.py.
        "test": ["pytest>=8", "pytest-xdist>=3.6", "ai-edge-litert>=2.3,<3", *BEAM_REQUIRES],
        "dev": ["pytest>=8", "pytest-xdist>=3.6", "ruff>=0.6", "ai-edge-litert>=2.3,<3", *BEAM_REQUIRES],
    },
)
