"""Tiny odd-sized models shared by the tests (vocab 99, hidden 32, heads 4 of 8, FFN 37)."""

import numpy as np

from fastformers_tf.models.encoder import TransformerEncoder

SIZES = dict(vocab_size=99, num_layers=3, hidden_dim=32, num_heads=4, head_dim=8, intermediate_dim=37)
FAMILY_OPTIONS = {
    "bert": dict(family="bert"),
    "roberta": dict(family="roberta", pad_token_id=1, type_vocab_size=1, layer_norm_epsilon=1e-5),
    "mpnet": dict(family="mpnet", pad_token_id=1, type_vocab_size=0, relative_attention_num_buckets=32),
}
UNEVEN_PLAN = dict(
    heads=[[0, 1], [0, 2, 3], []], ffn_units=[list(range(37)), [1, 4, 5, 8, 13, 21, 22, 27, 30, 33, 36], []]
)


def encoder(family="bert", **overrides):
    return TransformerEncoder(**{**SIZES, "max_sequence_length": 64, **FAMILY_OPTIONS[family], **overrides})


def token_batch(vocab_size=99, pad_id=0, batch_size=3, seq_len=11, seed=0):
    """int32 token ids, segment ids and a padding mask; examples of lengths seq_len, 7, 2."""
    rng = np.random.default_rng(seed)
    lengths = [seq_len, 7, 2][:batch_size]
    mask = (np.arange(seq_len)[None, :] < np.array(lengths)[:, None]).astype(np.int32)
    ids = rng.integers(3, vocab_size, size=(batch_size, seq_len)).astype(np.int32)
    ids = np.where(mask == 1, ids, pad_id).astype(np.int32)
    segments = ((np.arange(seq_len)[None, :] >= 4) & (mask == 1)).astype(np.int32) * np.ones_like(ids)
    return ids, segments, mask


def encoder_inputs(encoder, ids, segments, mask):
    inputs = {"token_ids": ids, "padding_mask": mask}
    if encoder.config.type_vocab_size > 1:
        inputs["segment_ids"] = segments
    elif encoder.config.type_vocab_size == 1:
        inputs["segment_ids"] = np.zeros_like(ids)
    return inputs


def randomize(model, seed=0, scale=0.1):
    """Gives every weight a random value (LayerNorm scales near 1), in place.

    Fresh Keras and transformers models start with zero biases and unit
    LayerNorms, which would let a swapped bias or LayerNorm parameter pass a
    parity test; exporters also fold away additions of zero.
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        noise = rng.normal(0.0, scale, size=w.shape).astype(np.float32)
        w.assign(noise + 1.0 if "gamma" in w.name or "LayerNorm/weight" in w.name else noise)
    return model


def tokenizer(directory):
    """A WordPiece tokenizer over a 99-token vocabulary (fits `encoder()`)."""
    import os

    from transformers import BertTokenizerFast

    words = "the a movie film great good bad awful team won lost game vote bill law cook soup onion".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    vocab += [f"w{i}" for i in range(99 - len(vocab))]
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    return BertTokenizerFast(vocab_file=path)


def classifier(num_classes=3, labels=None, seed=0):
    """A classifier over the uneven encoder (heads [2, 3, 0], FFN [37, 11, 0]), all weights random.

    Mean pooling and a large head whose bias centers the logits of random
    inputs: different inputs, tokenized texts included, get different top
    classes, so argmax agreement between backends means something.
    """
    from fastformers_tf.models.classifier import TextClassifier
    from fastformers_tf.prune import PrunePlan, prune

    encoder_ = prune(randomize(encoder(), seed), PrunePlan(**UNEVEN_PLAN))
    model = TextClassifier(encoder_, num_classes, pooling="mean", labels=labels)
    randomize(model.output_dense, seed + 1, scale=1.0)
    kernel, bias = model.output_dense.get_weights()
    logits = model(model.encoder.dummy_inputs(32, 13, seed=seed + 2)).numpy()
    model.output_dense.set_weights([kernel, bias - logits.mean(0)])
    return model


# The recipe overrides that read RTE as it was before the hold-out: train whole, val for every choice, one seed.
# Tests of other mechanisms use them, so that configs/rte.yaml's hold-out (a tenth of a tiny train file) does not
# change what they check; tests of the hold-out set it themselves.
WHOLE_SPLITS = [
    "holdout.fraction=0",
    "finetune.eval_split=val",
    "finetune.seeds=[]",
    "finetune.evals_per_epoch=1",
    "distill.eval_split=val",
    "compress.report_split=val",
    "compress.selection_split=val",
    # Train alone as the transfer set: configs/rte.yaml adds teacher-labelled copies, which tests ask for by name.
    "distill.transfer=[]",
]
