"""Hugging Face clients on our export folders: optimum + `transformers.pipeline`, and torch for pruned checkpoints.

Runs in a virtual environment of its own with `torch==2.13.0` (CPU) and
`optimum-onnx[onnxruntime]==0.1.0` from the package registry (about two
minutes to build), so it is marked `interop` and left out of the default run
(`python -m pytest -m interop` runs it).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastformers_tf.runtime import load_predictor
from tests import tiny

pytestmark = pytest.mark.interop

TEXTS = ["the team won the game", "a dull film", "the soup was good", "bad", "the movie was great and long"]

# optimum's ORTModel and transformers' pipeline on an export folder, as a user would write them.
OPTIMUM = """
import json, sys
from optimum.onnxruntime import ORTModelForSequenceClassification
from transformers import AutoTokenizer, pipeline

folder, file_name, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
model = ORTModelForSequenceClassification.from_pretrained(folder, file_name=file_name)
classify = pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(folder), top_k=None)
print(json.dumps([{r["label"]: r["score"] for r in result} for result in classify(texts)]))
"""

# transformers' own torch model on a checkpoint written by save_hf_checkpoint.
TORCH = """
import json, sys
import torch
from transformers import AutoModel

model = AutoModel.from_pretrained(sys.argv[1]).eval()
ids, segments, mask = (torch.tensor(x) for x in json.loads(sys.argv[2]))
kwargs = {"token_type_ids": segments} if model.config.model_type == "bert" else {}
with torch.no_grad():
    print(json.dumps(model(input_ids=ids, attention_mask=mask, **kwargs).last_hidden_state.tolist()))
"""


@pytest.fixture(scope="module")
def hf_python(tmp_path_factory):
    venv = tmp_path_factory.mktemp("interop") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    install = [
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "torch==2.13.0",
        "optimum-onnx[onnxruntime]==0.1.0",
    ]
    result = subprocess.run(install, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return python


def run_json(python, script, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    result = subprocess.run([python, "-c", script, *args], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def minilm_export(tmp_path_factory):
    from fastformers_tf.export import ExportOptions, export_all
    from fastformers_tf.models import TextClassifier, from_pretrained, load_tokenizer

    model = TextClassifier(from_pretrained("all-MiniLM-L6-v2"), 2, pooling="mean", labels=["negative", "positive"])
    tiny.randomize(model.output_dense, seed=3, scale=1.0)
    folder = str(tmp_path_factory.mktemp("minilm"))
    export_all(model, folder, load_tokenizer("all-MiniLM-L6-v2"), ExportOptions(int8=True))
    return folder


@pytest.mark.parametrize("which", ["minilm", "pruned uneven"])
def test_optimum_and_pipeline_give_what_predict_gives(hf_python, minilm_export, tiny_export, which):
    folder = minilm_export if which == "minilm" else tiny_export.directory
    for file_name, precision in (("model.opt.onnx", "fp32"), ("model.int8.onnx", "int8")):
        served = run_json(hf_python, OPTIMUM, folder, file_name, json.dumps(TEXTS))
        # The pipeline runs one text at a time: so does the predictor here, since dynamic INT8 scales
        # depend on the whole batch.
        predictor = load_predictor(folder, "onnx", precision, batch_size=1)
        expected = predictor.predict(TEXTS)
        assert [max(s, key=s.get) for s in served] == [label for label, _ in expected], (which, precision)
        if precision == "fp32":
            probs = np.exp(predictor.logits(TEXTS))
            probs /= probs.sum(-1, keepdims=True)
            got = [[s[name] for name in predictor.labels] for s in served]
            np.testing.assert_allclose(got, probs, atol=1e-5)


def test_transformers_runs_a_head_pruned_checkpoint_as_we_do(hf_python, tmp_path):
    from fastformers_tf.models import save_hf_checkpoint
    from fastformers_tf.prune import PrunePlan, prune

    full = tiny.randomize(tiny.encoder())
    units = list(range(full.config.intermediate_dim[0]))
    encoder = prune(full, PrunePlan(heads=[[0, 1], [0, 2, 3], []], ffn_units=[units] * 3))
    save_hf_checkpoint(encoder, str(tmp_path))
    ids, segments, mask = tiny.token_batch()
    hidden = run_json(hf_python, TORCH, str(tmp_path), json.dumps([ids.tolist(), segments.tolist(), mask.tolist()]))
    ours = encoder(tiny.encoder_inputs(encoder, ids, segments, mask))["sequence_output"].numpy()
    valid = mask.astype(bool)
    np.testing.assert_allclose(np.array(hidden)[valid], ours[valid], atol=1e-5)
