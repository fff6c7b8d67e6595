"""FP16 ONNX models keep int32/fp32 inputs and outputs and agree with Keras (checked on the CPU provider)."""

import numpy as np
import onnx
import pytest

from fastformers_tf.export import convert_fp16, export_onnx, optimize_onnx
from fastformers_tf.export.parity import compare
from fastformers_tf.runtime.onnx_predictor import OnnxPredictor
from tests import tiny


def test_fused_model_in_fp16_keeps_io_types_and_matches_keras(tmp_path):
    model = tiny.classifier()
    raw, fused, fp16 = (str(tmp_path / name) for name in ("model.onnx", "model.opt.onnx", "model.fp16.onnx"))
    export_onnx(model, raw)
    optimize_onnx(raw, fused, model)
    counts = convert_fp16(fused, fp16)
    assert counts["Attention"] == 2  # still fused

    proto = onnx.load(fp16)
    io_types = {x.name: x.type.tensor_type.elem_type for x in [*proto.graph.input, *proto.graph.output]}
    int32, float32 = onnx.TensorProto.INT32, onnx.TensorProto.FLOAT
    assert io_types == {"input_ids": int32, "token_type_ids": int32, "attention_mask": int32, "logits": float32}
    weights = [init for init in proto.graph.initializer if len(init.dims) == 2]
    assert weights and all(init.data_type == onnx.TensorProto.FLOAT16 for init in weights)

    predictor = OnnxPredictor(fp16)
    report = compare(model, predictor, ((16, 13), (8, 29), (3, 9)))
    assert report["max_abs_diff"] < 1e-2 and report["argmax_agreement"] == 1.0
    assert predictor.forward(tiny.encoder_inputs(model.encoder, *tiny.token_batch()))["logits"].dtype == np.float32


def test_refuses_to_overwrite_the_fp32_model(tmp_path):
    path = str(tmp_path / "model.onnx")
    export_onnx(tiny.classifier(), path)
    with pytest.raises(ValueError, match="Refusing to overwrite the fp32 model"):
        convert_fp16(path, path)
