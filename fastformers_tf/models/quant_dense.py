"""`QuantDense`: a Dense layer that trains and runs through 8-bit fake quantization.

Quantization-aware training (Jacob et al. 2018, as tfmot does it) with the
quantizer placement of Q8BERT (Zafrir et al. 2019): the inputs and kernels of
the encoder's GEMMs are rounded to 8 bits in the forward pass and the rounding
is passed straight through in the backward pass; LayerNorm, softmax, GELU and
the residual adds stay in float. The fake-quant ops are what the exporters
read: tf2onnx turns the activations' `FakeQuantWithMinMaxVars` into
QuantizeLinear/DequantizeLinear, and the TFLite converter reads every range.

- input: per tensor, asymmetric, 8 bits over [min, max] (0 always inside);
  the range is the first training batch's, then an exponential moving
  average of each batch's (non-trainable variables, frozen at inference).
- output: as the input, for the query/key/value projections and the FFN's
  first layer (TFLite's int8 FULLY_CONNECTED needs an output range), not for
  the two layers whose output joins the residual stream: its few outlier
  dimensions (Bondarenko et al. 2021) make a per-tensor 8-bit range cost
  about 1.6 points on SST-2 (measured: README, "INT8 paths").
- kernel: per tensor, symmetric, narrow range [-127, 127] * max|w| / 127:
  int8 weights with zero point 0, as onnxruntime and TFLite want them.

tfmot's `quantize_model` would do this for stock layers only: it refuses a
model nested in another ("Quantizing a keras Model inside another keras
Model is not supported") and cannot see the Dense layers inside our custom
encoder layers; see `fastformers_tf.quantize`.
"""

from fastformers_tf.backend import keras, tf

NUM_BITS = 8


def fake_quant_kernel(kernel):
    """`kernel` rounded to int8, one symmetric narrow range [-127, 127] * max|w| / 127 for the whole tensor.

    Per tensor, not per output channel: TFLite's converter cannot carry a
    per-channel range through the transpose it puts before FULLY_CONNECTED
    ("'tfl.transpose' op has mismatched quantized axes"). Q8BERT and tfmot's
    Dense default are per tensor too; training recovers the difference.
    """
    bound = tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(kernel)), 1e-8))
    return tf.quantization.fake_quant_with_min_max_vars(kernel, -bound, bound, num_bits=NUM_BITS, narrow_range=True)


@keras.saving.register_keras_serializable(package="fastformers_tf")
class QuantDense(keras.layers.Dense):
    """`keras.layers.Dense` with 8-bit fake quantization of its input, kernel and (optionally) output.

    Same weights as the Dense it replaces (`kernel`, `bias`), then the
    non-trainable ranges `input_min`, `input_max`, `output_min` and
    `output_max` (with `quantize_output`), and `batches` (how many batches
    set them). The output range is what lets TFLite run FULLY_CONNECTED
    with int8 in and out.

    Args:
        units: output width.
        quantize_output: fake-quantize the output too.
        ema_decay: weight of the old range in the moving average.
        **kwargs: `keras.layers.Dense`'s (no activation: ours are applied outside).

    Example:
        >>> dense = QuantDense(5)
        >>> _ = dense(tf.random.normal((2, 3, 7)), training=True)  # sets the ranges
        >>> float(dense.batches.numpy())
        1.0
    """

    def __init__(self, units, quantize_output=True, ema_decay=0.99, **kwargs):
        super().__init__(units, **kwargs)
        if self.activation is not keras.activations.linear:
            raise ValueError("QuantDense takes no activation: apply it after the layer.")
        self.quantize_output = quantize_output
        self.ema_decay = ema_decay
        self.calibrating = False  # set by `fastformers_tf.quantize.calibrating`: observe ranges at inference too

    def build(self, input_shape):
        super().build(input_shape)
        zeros = keras.initializers.Zeros()
        names = ("input_min", "input_max") + (("output_min", "output_max") if self.quantize_output else ())
        for name in (*names, "batches"):
            setattr(self, name, self.add_weight(name=name, shape=(), initializer=zeros, trainable=False))

    def _fake_quant(self, x, low, high, observe):
        if observe:
            batch = tf.stop_gradient(x)
            first = tf.equal(self.batches, 0.0)
            for var, value in (
                (low, tf.minimum(tf.reduce_min(batch), 0.0)),
                (high, tf.maximum(tf.reduce_max(batch), 0.0)),
            ):
                var.assign(tf.where(first, value, self.ema_decay * var + (1 - self.ema_decay) * value))
        return tf.quantization.fake_quant_with_min_max_vars(x, low, high, num_bits=NUM_BITS, narrow_range=False)

    def call(self, inputs, training=None):
        observe = bool(training) or self.calibrating
        x = self._fake_quant(inputs, self.input_min, self.input_max, observe)
        # A batched matmul rather than Dense's tensordot: no reshapes between the quantized input and the
        # GEMM, so exporters see QuantizeLinear/DequantizeLinear -> MatMul and fuse them into an int8 GEMM.
        outputs = tf.matmul(x, fake_quant_kernel(self.kernel))  # [..., T, units]
        if self.use_bias:
            outputs = outputs + self.bias
        if self.quantize_output:
            outputs = self._fake_quant(outputs, self.output_min, self.output_max, observe)
        if observe:
            self.batches.assign_add(1.0)
        return outputs

    def get_config(self):
        return {**super().get_config(), "quantize_output": self.quantize_output, "ema_decay": self.ema_decay}


def dense_factory(quantize):
    """`make(units, residual=False, **kwargs)`: a stock Dense (which onnxruntime's fusions need), or with
    `quantize` a `QuantDense` that quantizes its output unless it feeds the residual stream."""

    def make(units, residual=False, **kwargs):
        if not quantize:
            return keras.layers.Dense(units, **kwargs)
        return QuantDense(units, quantize_output=not residual, **kwargs)

    return make
