"""Device -> onnxruntime providers, and the IO-binding path, checked on the CPU (no GPU here)."""

import ast
import os

import numpy as np
import pytest

from fastformers_tf.runtime.onnx_predictor import OnnxPredictor
from fastformers_tf.runtime.providers import CPU, CUDA, TENSORRT, DeviceError, output_device, providers_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_gpu_providers_put_cuda_first_and_keep_the_cpu_last():
    assert providers_for("cpu") == [CPU]
    assert providers_for("gpu", available=[TENSORRT, CUDA, CPU]) == [CUDA, CPU]
    assert providers_for("gpu", tensorrt=True, available=[TENSORRT, CUDA, CPU]) == [TENSORRT, CUDA, CPU]
    assert output_device([CUDA, CPU]) == "cuda" and output_device([CPU]) == "cpu"


def test_a_gpu_without_cuda_provider_is_a_clear_error_not_a_silent_cpu_run():
    with pytest.raises(
        DeviceError, match=r"needs CUDAExecutionProvider, but this onnxruntime has \['CPUExecutionProvider'\]"
    ):
        providers_for("gpu", available=[CPU])
    with pytest.raises(DeviceError, match="needs TensorrtExecutionProvider"):
        providers_for("gpu", tensorrt=True, available=[CUDA, CPU])
    with pytest.raises(DeviceError, match="Unknown device 'tpu'"):
        providers_for("tpu")


def test_io_binding_gives_the_plain_run_outputs(tiny_export):
    path = os.path.join(tiny_export.directory, "model.int8.onnx")
    plain, bound = OnnxPredictor(path, threads=1), OnnxPredictor(path, threads=1, io_binding=True)
    assert not plain.io_binding and bound.io_binding and bound.output_device == "cpu"
    rng = np.random.default_rng(0)
    for batch, length in ((1, 5), (4, 17)):
        ones = np.ones((batch, length), np.int32)
        inputs = {
            "token_ids": rng.integers(3, 99, (batch, length)).astype(np.int32),
            "padding_mask": ones,
            "segment_ids": 0 * ones,
        }
        inputs = {name: inputs[name] for name in plain.input_names}
        np.testing.assert_array_equal(bound.forward(inputs)["logits"], plain.forward(inputs)["logits"])


def test_load_predictor_refuses_a_gpu_it_cannot_serve(tiny_export):
    from fastformers_tf.errors import ArgumentError
    from fastformers_tf.runtime import load_predictor

    if CUDA not in __import__("onnxruntime").get_available_providers():
        with pytest.raises(DeviceError, match="onnxruntime-gpu"):
            load_predictor(tiny_export.directory, "onnx", "int8", device="gpu")
    with pytest.raises(ArgumentError, match="device='gpu' is for the onnx backend"):
        load_predictor(tiny_export.directory, "tflite", device="gpu")


def test_the_gpu_wheel_is_an_extra_and_never_in_the_default_install():
    tree = ast.parse(open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    kwargs = {k.arg: k.value for k in call.keywords}
    default = [ast.literal_eval(e) for e in kwargs["install_requires"].elts if isinstance(e, ast.Constant)]
    assert any(r.startswith("onnxruntime>=") for r in default) and not any("onnxruntime-gpu" in r for r in default)
    extras = {
        ast.literal_eval(k): v
        for k, v in zip(kwargs["extras_require"].keys, kwargs["extras_require"].values, strict=True)
    }
    assert [ast.literal_eval(e) for e in extras["gpu"].elts] == ["onnxruntime-gpu>=1.22,<2"]
