"""Augmented copies of training examples, for the teacher to label (`distill.transfer`).

Three kinds, each seeded by the recipe's seed (a rerun sees the same copies):

- `word_drop` (`augment:N`, or `augment:N:drop`): each word dropped with
  probability 0.1 (never all), and one random pair of adjacent words swapped.
- `neighbor_copies` (`augment:N:neighbors`): TinyBERT's augmentation without
  a masked-LM head. Each whole word that is not a stopword or punctuation is
  replaced, with probability `p`, by one of its `k` nearest words by cosine
  similarity in the teacher's input-embedding matrix (`NeighborTable`). A
  word the tokenizer splits into several pieces is looked up by the mean of
  its pieces' vectors; the replacements are single-piece words. For pairs,
  copies vary the first text (the second kept), then the second, then both
  (Tang et al. 2019), in turn.
- `pair_copies` (`pairs:N`): for pair tasks, each example's first text with
  the second text of N other examples drawn at random.

Copies are unique within an example and differ from it; an example that
cannot give N distinct copies gives fewer. Copies carry no label: the
teacher labels them.
"""

import dataclasses
import re

import numpy as np

from fastformers_tf.data.examples import Example

WORD_DROP = 0.1
# NLTK's English stopword list (its corpus is a separate download, so the list is here).
STOPWORDS = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his
    himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this
    that that'll these those am is are was were be been being have has had having do does did doing a an the and but
    if or because as until while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will just don don't should
    should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
    haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
    weren weren't won won't wouldn wouldn't""".split()
)
# A word with its leading and trailing punctuation: only the letters in the middle are replaced.
_WORD = re.compile(r"^([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)$")
_ATTEMPTS = 4  # draws per wanted copy before an example gives up on distinct copies


def _unique_copies(example, copies, draw):
    """Up to `copies` distinct `(text_a, text_b)` from `draw(c)` (c: the copy's number), none the example's own."""
    own = (example.text_a, example.text_b)
    found = {}
    for _ in range(copies * _ATTEMPTS):
        if len(found) == copies:
            break
        texts = draw(len(found))
        if texts != own and texts not in found:
            found[texts] = None
    return [Example(guid=f"{example.guid}-aug{c}", text_a=a, text_b=b) for c, (a, b) in enumerate(found)]


# === Word drop and swap ===


def _drop_and_swap(text, rng):
    words = text.split()
    if len(words) > 1:
        keep = rng.random(len(words)) >= WORD_DROP
        if not keep.any():
            keep[rng.integers(len(words))] = True
        words = [w for w, k in zip(words, keep, strict=True) if k]
    if len(words) > 1:
        i = int(rng.integers(len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def word_drop(examples, copies, seed):
    """`copies` seeded word-drop + adjacent-swap variants of each example (see the module doc)."""
    rng = np.random.default_rng(seed)
    out = []
    for example in examples:
        for c in range(copies):
            out.append(
                Example(
                    guid=f"{example.guid}-aug{c}",
                    text_a=_drop_and_swap(example.text_a, rng),
                    text_b=None if example.text_b is None else _drop_and_swap(example.text_b, rng),
                )
            )
    return out


# === Nearest words in the teacher's embedding matrix ===


def _replaceable(word):
    """`(prefix, letters, suffix)` of a word whose letters may be replaced; None for stopwords and non-words."""
    match = _WORD.match(word)
    if match is None or match[2].lower() in STOPWORDS or len(match[2]) < 2:
        return None
    return match.groups()


@dataclasses.dataclass
class NeighborTable:
    """The `k` nearest single-piece words of each word, by cosine of the teacher's input embeddings.

    Built by `NeighborTable.build`; `neighbors[word.lower()]` lists the
    replacements (lowercase, nearest first); words without neighbours are
    absent.
    """

    neighbors: dict
    k: int

    @classmethod
    def build(cls, embeddings, tokenizer, words, k=15, chunk=512):
        """The table of `words` over `tokenizer`'s vocabulary.

        Args:
            embeddings: the input-embedding matrix `[vocab, D]` the tokenizer's ids index.
            tokenizer: a Hugging Face tokenizer.
            words: the words to find neighbours of (any case; non-words are skipped).
            k: neighbours per word.
            chunk: words compared with the vocabulary at once.
        """
        embeddings = np.asarray(embeddings, np.float32)
        candidates = _single_piece_words(tokenizer, len(embeddings))
        if not candidates:
            return cls({}, k)
        names = list(candidates)
        position = {w: i for i, w in enumerate(names)}
        vocab = _unit(embeddings[[candidates[w] for w in names]])  # [V, D]
        queries = sorted({m[1].lower() for w in words if (m := _replaceable(w))})
        neighbors = {}
        for start in range(0, len(queries), chunk):
            batch = queries[start : start + chunk]
            pieces = tokenizer(batch, add_special_tokens=False)["input_ids"]
            vectors = _unit(np.stack([embeddings[ids].mean(0) if ids else embeddings[0] for ids in pieces]))
            similarity = vectors @ vocab.T  # [chunk, V]
            for word, ids, row in zip(batch, pieces, similarity, strict=True):
                if not ids or tokenizer.unk_token_id in ids:  # a word the vocabulary cannot spell has no vector
                    continue
                if word in candidates:
                    row[position[word]] = -np.inf
                top = np.argpartition(-row, min(k, len(row) - 1))[: k + 1]
                top = top[np.lexsort((top, -row[top]))]  # nearest first; ties in vocabulary order
                found = [names[i] for i in top if names[i] != word and np.isfinite(row[i])][:k]
                if found:
                    neighbors[word] = found
        return cls(neighbors, k)

    def replace(self, text, p, rng):
        """`text` with each replaceable word swapped, with probability `p`, for one of its neighbours."""
        words = text.split(" ")
        for i, word in enumerate(words):
            parts = _replaceable(word)
            if parts is None or rng.random() >= p:
                continue
            prefix, letters, suffix = parts
            options = self.neighbors.get(letters.lower())
            if not options:
                continue
            new = options[int(rng.integers(len(options)))]
            if letters[0].isupper():
                new = new.upper() if letters.isupper() and len(letters) > 1 else new.capitalize()
            words[i] = f"{prefix}{new}{suffix}"
        return " ".join(words)


def _unit(matrix):
    return matrix / np.maximum(np.linalg.norm(matrix, axis=-1, keepdims=True), 1e-12)


def _single_piece_words(tokenizer, vocab_size):
    """`{word: id}`: vocabulary entries that are a whole lowercase word of letters the tokenizer encodes as itself."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    texts = {}
    for index, token in enumerate(tokens):
        word = tokenizer.convert_tokens_to_string([token]).strip()
        if word.isalpha() and word.islower() and word not in STOPWORDS and len(word) > 1 and word not in texts:
            texts[word] = index
    names = list(texts)
    encoded = tokenizer(names, add_special_tokens=False)["input_ids"] if names else []
    return {w: texts[w] for w, ids in zip(names, encoded, strict=True) if ids == [texts[w]]}


def neighbor_copies(examples, copies, seed, table, p=0.4):
    """`copies` distinct neighbour-replaced copies of each example (see the module doc)."""
    rng = np.random.default_rng(seed)
    out = []
    for example in examples:

        def draw(c, example=example):
            side = c % 3 if example.text_b is not None else 0  # 0: first text, 1: second, 2: both
            a = table.replace(example.text_a, p, rng) if side in (0, 2) else example.text_a
            b = table.replace(example.text_b, p, rng) if side in (1, 2) else example.text_b
            return a, b

        out.extend(_unique_copies(example, copies, draw))
    return out


def words_of(examples):
    """Every whitespace-separated word of the examples' texts."""
    return {w for e in examples for text in (e.text_a, e.text_b) if text for w in text.split()}


# === Recombined pairs ===


def pair_copies(examples, copies, seed):
    """Each pair's first text with the second text of `copies` other examples, drawn at random (seeded)."""
    if any(e.text_b is None for e in examples):
        raise ValueError("pairs:N recombines text pairs; this task's examples are single texts.")
    if len(examples) < 2:
        return []
    rng = np.random.default_rng(seed)
    out = []
    for i, example in enumerate(examples):

        def draw(c, i=i, example=example):
            j = int(rng.integers(len(examples) - 1))
            return example.text_a, examples[j + (j >= i)].text_b

        out.extend(_unique_copies(example, copies, draw))
    return out
