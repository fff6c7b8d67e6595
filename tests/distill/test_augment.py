"""Augmented copies: the neighbour table, replacement rules, seeds, uniqueness, pair modes, recombined pairs."""

import numpy as np
import pytest

from fastformers_tf.data.examples import Example
from fastformers_tf.distill.augment import NeighborTable, neighbor_copies, pair_copies, word_drop, words_of

VECTORS = {  # 3-d input embeddings, chosen so that the cosines below are easy to check by hand
    "cat": [1.0, 0.0, 0.0],
    "dog": [0.9, 0.2, 0.0],
    "car": [0.0, 1.0, 0.0],
    "truck": [0.1, 0.9, 0.1],
    "happy": [0.0, 0.0, 1.0],
    "glad": [0.0, 0.1, 0.95],
    "sad": [0.3, 0.0, 0.8],
    "##s": [0.0, 0.0, 0.5],
}
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "a", "not", ".", ","]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import BertTokenizerFast

    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(SPECIAL + list(VECTORS)) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(path))


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=3) for _ in SPECIAL] + list(VECTORS.values())
    return np.array(rows, np.float32)  # [vocab, 3]


def test_the_neighbour_table_of_a_tiny_matrix_matches_the_cosines_by_hand(tokenizer, embeddings):
    table = NeighborTable.build(embeddings, tokenizer, ["Cat", "cats", "happy,", "the", "a", "42", ".", "zebra"], k=2)
    # cat . dog = 0.9 / |dog| = 0.976, cat . sad = 0.3 / |sad| = 0.351, cat . truck = 0.1 / |truck| = 0.110.
    assert table.neighbors["cat"] == ["dog", "sad"]
    # happy . glad = 0.95 / 0.955 = 0.995, happy . sad = 0.8 / 0.854 = 0.936.
    assert table.neighbors["happy"] == ["glad", "sad"]
    # "cats" is two pieces (cat ##s): their mean [0.5, 0, 0.25] is nearest cat (0.894), then dog (0.873).
    assert table.neighbors["cats"] == ["cat", "dog"]
    # Stopwords, numbers, punctuation and words the vocabulary cannot spell (zebra: [UNK]) get no entry;
    # stopwords and pieces are never replacements.
    assert set(table.neighbors) == {"cat", "cats", "happy"}
    every = NeighborTable.build(embeddings, tokenizer, list(VECTORS)[:-1], k=10)
    assert all(not {"the", "a", "not", "##s", "s"} & set(found) for found in every.neighbors.values())
    # A direct computation over every candidate agrees with the table.
    words = [w for w in VECTORS if not w.startswith("##")]
    unit = {w: np.array(v) / np.linalg.norm(v) for w, v in VECTORS.items() if w in words}
    for word in words:
        others = [w for w in words if w != word]  # in vocabulary order, which breaks ties
        expected = sorted(others, key=lambda w: -round(float(unit[word] @ unit[w]), 6))
        assert every.neighbors[word] == expected[:10]


def test_replacement_leaves_stopwords_and_punctuation_and_keeps_case(tokenizer, embeddings):
    table = NeighborTable.build(embeddings, tokenizer, words_of([Example("x", "cat car happy")]), k=1)
    rng = np.random.default_rng(0)
    assert table.replace("The Cat is not a car, (happy).", 1.0, rng) == "The Dog is not a truck, (glad)."
    assert table.replace("The Cat is not a car, (happy).", 1e-9, rng) == "The Cat is not a car, (happy)."
    assert table.replace("CAT 42 zebra", 1.0, rng) == "DOG 42 zebra"  # unknown words stay


def test_neighbour_copies_are_seeded_unique_and_vary_one_side_then_the_other_then_both(tokenizer, embeddings):
    examples = [Example("p-0", "cat happy", "dog sad", label=1), Example("p-1", "the a", "not .", label=0)]
    table = NeighborTable.build(embeddings, tokenizer, words_of(examples), k=3)
    copies = neighbor_copies(examples, 3, seed=5, table=table, p=1.0)
    assert [e.guid for e in copies] == ["p-0-aug0", "p-0-aug1", "p-0-aug2"]  # p-1 has no word to replace
    assert all(e.label is None for e in copies)
    first, second, both = copies
    assert first.text_b == "dog sad" and first.text_a != "cat happy"
    assert second.text_a == "cat happy" and second.text_b != "dog sad"
    assert both.text_a != "cat happy" and both.text_b != "dog sad"
    again = neighbor_copies(examples, 3, seed=5, table=table, p=1.0)
    assert [(e.text_a, e.text_b) for e in again] == [(e.text_a, e.text_b) for e in copies]
    many = neighbor_copies(examples[:1], 12, seed=5, table=table, p=0.5)
    texts = [(e.text_a, e.text_b) for e in many]
    assert len(set(texts)) == len(texts) and ("cat happy", "dog sad") not in texts
    other_seed = neighbor_copies(examples[:1], 12, seed=6, table=table, p=0.5)
    assert [(e.text_a, e.text_b) for e in other_seed] != texts


def test_word_drop_is_seeded_unlabeled_and_never_empty():
    examples = [Example("train-0", "the movie was great fun to watch", label=1), Example("train-1", "awful", label=0)]
    copies = word_drop(examples, 3, seed=7)
    assert [e.guid for e in copies[:3]] == ["train-0-aug0", "train-0-aug1", "train-0-aug2"] and len(copies) == 6
    assert all(e.label is None and e.text_a.strip() for e in copies)
    assert [e.text_a for e in copies] == [e.text_a for e in word_drop(examples, 3, seed=7)]
    assert [e.text_a for e in copies] != [e.text_a for e in word_drop(examples, 3, seed=8)]
    assert copies[3].text_a == "awful"  # one word: nothing to drop or swap
    assert all(set(e.text_a.split()) <= set(examples[0].text_a.split()) for e in copies[:3])


def test_recombined_pairs_keep_the_premise_and_take_other_hypotheses():
    examples = [Example(f"t-{i}", f"premise {i}", f"hypothesis {i}", label=i % 2) for i in range(5)]
    copies = pair_copies(examples, 3, seed=1)
    assert len(copies) == 15 and all(e.label is None for e in copies)
    for i in range(5):
        mine = copies[3 * i : 3 * i + 3]
        assert {e.text_a for e in mine} == {f"premise {i}"}
        assert len({e.text_b for e in mine}) == 3 and f"hypothesis {i}" not in {e.text_b for e in mine}
    assert [e.text_b for e in pair_copies(examples, 3, seed=1)] == [e.text_b for e in copies]
    assert len(pair_copies(examples[:2], 3, seed=1)) == 2  # one other hypothesis each: fewer copies, no repeats
    with pytest.raises(ValueError, match="pairs:N recombines text pairs"):
        pair_copies([Example("s-0", "alone")], 1, seed=0)
