"""Which onnxruntime execution providers serve a device: CPU, or CUDA (and TensorRT) on a GPU.

The GPU providers come with the `onnxruntime-gpu` wheel (`pip install
'fastformers_tf[gpu]'` in an environment of its own: it and the CPU
`onnxruntime` wheel install the same `onnxruntime` module, so the default
install keeps the CPU wheel and never pulls the GPU one). Needs no TensorFlow.
"""

from fastformers_tf.errors import UserError

DEVICES = ("cpu", "gpu")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"


class DeviceError(UserError, RuntimeError):
    """The device asked for has no execution provider in this onnxruntime."""


def available_providers():
    import onnxruntime as ort

    return list(ort.get_available_providers())


def providers_for(device="cpu", tensorrt=False, available=None):
    """The execution providers, in priority order, that run a session on `device`.

    "gpu" is CUDA (TensorRT first with `tensorrt`), with the CPU provider
    last for the few ops CUDA lacks. Raises `DeviceError` when this
    onnxruntime has no CUDA provider, rather than falling back to the CPU
    unseen.
    """
    if device not in DEVICES:
        raise DeviceError(f"Unknown device {device!r}; expected one of {DEVICES}.")
    if device == "cpu":
        return [CPU]
    available = available_providers() if available is None else list(available)
    wanted = ([TENSORRT] if tensorrt else []) + [CUDA]
    missing = [p for p in wanted if p not in available]
    if missing:
        raise DeviceError(
            f"device='gpu' needs {' and '.join(missing)}, but this onnxruntime has {available}: install the "
            "onnxruntime-gpu wheel (pip install 'fastformers_tf[gpu]') in an environment of its own, on a machine "
            "with an NVIDIA GPU and CUDA."
        )
    return wanted + [CPU]


def output_device(providers):
    """Where IO binding leaves the outputs: on the GPU for a CUDA/TensorRT session, else on the CPU."""
    return "cuda" if providers and providers[0] in (CUDA, TENSORRT) else "cpu"
