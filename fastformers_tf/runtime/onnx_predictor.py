"""ONNX Runtime inference on texts (fp32, int8 or fp16 exports); needs no TensorFlow."""

import numpy as np

from fastformers_tf.runtime.base import Predictor, unreadable_model
from fastformers_tf.runtime.names import to_inner
from fastformers_tf.runtime.providers import output_device, providers_for

# onnxruntime's session-level optimizer that fuses Add + LayerNormalization into SkipLayerNormalization.
SKIP_LAYER_NORM_FUSION = "SkipLayerNormFusion"


def session_options(threads=None, spin_wait=True):
    """`SessionOptions` running one batch at a time on `threads` intra-op threads (None: ORT's default).

    With `spin_wait` False the intra-op threads sleep as soon as a call ends
    instead of spinning for more work: for sessions that take turns in one
    process (a cascade's stages), where a spinning pool steals the cores the
    next session needs.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    if not spin_wait:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # One request at a time: the graph is a chain, so inter-op threads would only compete for cores.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def disabled_optimizers(providers):
    """Session-level fusions to skip: on CPU, the one that would undo `unfuse_skip_layernorm`.

    onnxruntime's CPU `SkipLayerNormalization` kernel is slower than `Add` +
    `LayerNormalization`, so int8 exports carry the pair and the session must
    not fuse it back. GPU providers keep every fusion.
    """
    return [SKIP_LAYER_NORM_FUSION] if list(providers) == ["CPUExecutionProvider"] else []


class OnnxPredictor(Predictor):
    """Runs an exported `.onnx` file in onnxruntime (see `Predictor` for batching).

    Args:
        path: the `.onnx` file (from `export_onnx`, `optimize_onnx`,
            `quantize_int8` or `convert_fp16`).
        tokenizer: the model's transformers tokenizer.
        labels: label names, index-aligned with the logits.
        max_length: longer texts are truncated to this many tokens (None: 128,
            or the model's `max_tokens` when lower).
        batch_size: texts per forward pass.
        threads: intra-op threads (None: onnxruntime's default, one per core).
        device: "cpu" or "gpu" (CUDA; see `runtime.providers`), when
            `providers` is not given.
        providers: execution providers (default: `device`'s). On CPU alone
            the session keeps `Add` + `LayerNormalization` apart (see
            `disabled_optimizers`).
        io_binding: run through an `IOBinding` (default: on a GPU), so each
            call copies the inputs to the device once and the outputs back
            once, with no staging through onnxruntime's per-run feeds. An
            FP16 export keeps int32 inputs and fp32 outputs, so it is fed
            and read like the others.
        spin_wait: keep the intra-op threads spinning after a call (onnxruntime's
            default); False for sessions that take turns (`session_options`).
        max_tokens: the longest input the model takes (export.json's), checked
            against `max_length`.

    Example:
        >>> predictor = OnnxPredictor("export/model.int8.onnx", tokenizer, labels=["no", "yes"], threads=2)
        >>> predictor.predict(["a great film"])
    """

    def __init__(
        self,
        path,
        tokenizer=None,
        labels=None,
        max_length=None,
        batch_size=32,
        threads=None,
        providers=None,
        max_tokens=None,
        device="cpu",
        io_binding=None,
        spin_wait=True,
    ):
        import onnxruntime as ort

        super().__init__(tokenizer, labels, max_length, batch_size, max_tokens)
        self.path = path
        self.threads = threads
        providers = list(providers or providers_for(device))
        with unreadable_model(path, "an ONNX model"):
            self.session = ort.InferenceSession(
                path,
                session_options(threads, spin_wait),
                providers=providers,
                disabled_optimizers=disabled_optimizers(providers),
            )
        # The file's names (Hugging Face's, or the inner ones in older exports) -> the inner names.
        self._file_inputs = {to_inner(x.name): x.name for x in self.session.get_inputs()}
        self.input_names = tuple(self._file_inputs)
        self.output_names = tuple(to_inner(x.name) for x in self.session.get_outputs())
        self.output_device = output_device(providers)
        self.io_binding = self.output_device == "cuda" if io_binding is None else io_binding

    def forward(self, inputs):
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise KeyError(f"{self.path} needs inputs {missing}; got {sorted(inputs)}.")
        feed = {file_name: np.asarray(inputs[name]) for name, file_name in self._file_inputs.items()}
        if not self.io_binding:
            return dict(zip(self.output_names, self.session.run(None, feed), strict=True))
        binding = self.session.io_binding()
        for file_name, value in feed.items():
            binding.bind_cpu_input(file_name, np.ascontiguousarray(value))
        for output in self.session.get_outputs():
            binding.bind_output(output.name, self.output_device)
        self.session.run_with_iobinding(binding)
        return dict(zip(self.output_names, binding.copy_outputs_to_cpu(), strict=True))
