from setuptools import find_packages, setup

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
        "tensorflow-model-optimization==0.8.1",
        "absl-py>=1.4,<2",  # tensorflow-model-optimization 0.8.1 holds absl-py below 2
        "safetensors>=0.4",
        "sympy>=1.12",  # onnxruntime.transformers graph optimizer
        "h5py>=3.10",
        "huggingface-hub>=0.34,<1",
        "numpy>=1.26",
        "pyyaml>=6",
        "tqdm>=4.66",
        "omegaconf>=2.3,<3",
        "tensorboard>=2.20",  # TensorFlow 2.21 no longer depends on it; tf.summary needs it
    ],
    extras_require={"test": ["pytest>=8"], "dev": ["pytest>=8", "ruff>=0.6"]},
)
