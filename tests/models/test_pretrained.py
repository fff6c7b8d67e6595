"""Real packaged checkpoints, offline: all-MiniLM-L6-v2 and all-mpnet-base-v2."""

import numpy as np
import pytest

from fastformers_tf.models import from_pretrained, load_tokenizer

SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog.",
    "FastFormers makes transformer inference fast and cheap!",
]
# sentence-transformers 5.7.0 (torch 2.13.0 CPU) `encode` of SENTENCES: the first
# 8 values of each normalized mean-pooled embedding.
GOLDEN = {
    "all-MiniLM-L6-v2": [
        [0.021664081, -0.004864233, -0.009649118, -0.063401289, -0.167493567, 0.004676401, 0.080599785, -0.024142096],
        [0.043933582, 0.058934420, 0.048178349, 0.077548116, 0.026744425, -0.037629630, -0.002605146, -0.059943009],
        [-0.160928562, -0.019026794, -0.008751102, -0.008124652, -0.001056449, -0.002373998, -0.120245457, 0.033289038],
    ],
    "all-mpnet-base-v2": [
        [-0.021199988, -0.076259710, 0.010425168, -0.009130970, -0.046526469, -0.023125043, 0.025786420, 0.001851215],
        [-0.034292608, -0.001339418, 0.004336172, -0.001868417, 0.025440866, 0.028018953, -0.009773672, 0.022119014],
        [-0.052357323, 0.019827437, -0.001367034, 0.017085237, -0.015017061, -0.021223569, 0.077267230, -0.008883742],
    ],
}
# Same library, MiniLM, sentence 1 before normalization, and its token ids.
MINILM_RAW_NORM = 4.9280653
MINILM_IDS = [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102]


def sentence_embeddings(name):
    encoder = from_pretrained(name)
    tokenizer = load_tokenizer(name)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="np")
    inputs = {"token_ids": batch["input_ids"], "padding_mask": batch["attention_mask"]}
    if encoder.config.type_vocab_size:
        inputs["segment_ids"] = batch["token_type_ids"]
    hidden = encoder({k: v.astype("int32") for k, v in inputs.items()})["sequence_output"].numpy()
    mask = batch["attention_mask"][:, :, None]
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return encoder, batch, pooled


def test_minilm_matches_sentence_transformers():
    _, batch, pooled = sentence_embeddings("all-MiniLM-L6-v2")
    assert batch["input_ids"][0][: len(MINILM_IDS)].tolist() == MINILM_IDS
    assert np.linalg.norm(pooled[0]) == pytest.approx(MINILM_RAW_NORM, abs=1e-5)
    normalized = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(normalized[:, :8], GOLDEN["all-MiniLM-L6-v2"], atol=2e-6)


@pytest.mark.slow
def test_mpnet_assembles_and_matches_sentence_transformers():
    encoder, _, pooled = sentence_embeddings("all-mpnet-base-v2")
    assert encoder.config.family == "mpnet" and encoder.config.num_heads == [12] * 12
    normalized = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(normalized[:, :8], GOLDEN["all-mpnet-base-v2"], atol=2e-6)
