"""The auxiliary channel: a JSON vocab and a GloVe-format embedding file.

SageMaker's notebooks put two files in the `auxiliary` channel and name them
with `encX_vocab_file` and `encX_pretrained_embedding_file`:

* the vocab, a JSON object `{"word": id}` mapping each token to the integer
  id used in `in0`/`in1` (id 0 is padding and gets no vector);
* the vectors, a GloVe text file: one `word v1 v2 ... vD` per line, space
  separated, no header.

`pretrained_matrix` streams the vector file once and parses only the rows of
words in the vocab. A vocab word takes the vector of the same word in the file
or, failing that, of its lower-cased form. Ids with no vector ("OOV") are
drawn from a normal distribution with the standard deviation of the vectors
found, so they start at the same scale; row 0 (padding) is zero.
"""

import dataclasses
import json
import os

import numpy as np

from keras_o2v.data.jsonl import open_data_file


@dataclasses.dataclass
class PretrainedMatrix:
    """A `(vocab_size, dim)` initial token matrix and what went into it."""

    matrix: np.ndarray  # float32
    found: np.ndarray  # bool per id: the row came from the file
    vocab_words: int  # words in the vocab (padding id 0 excluded)
    oov_words: int  # of those, words with no vector in the file
    file_rows: int  # rows read from the vector file

    @property
    def oov_rate(self):
        return self.oov_words / max(1, self.vocab_words)


def load_vocab(path, vocab_size):
    """Reads a JSON vocab `{"word": id}`; returns the dict, checked.

    Raises:
        ValueError: naming the file (and the word) if the file is not a JSON
            object of words to integer ids in `[0, vocab_size)`, or maps a
            word or an id twice.
    """
    if not os.path.isfile(path):
        raise ValueError(f"Vocab file {path!r} does not exist.")

    def pairs_hook(pairs):
        seen = {}
        for word, token_id in pairs:
            if word in seen:
                raise ValueError(f"{path}: word {word!r} appears twice in "
                                 "the vocab.")
            seen[word] = token_id
        return seen

    with open_data_file(path) as f:
        try:
            vocab = json.load(f, object_pairs_hook=pairs_hook)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: malformed JSON ({e}). A vocab file is "
                             'one JSON object such as {"the": 2, "cat": 3}.'
                             ) from None
    if not isinstance(vocab, dict):
        raise ValueError(f"{path}: expected a JSON object mapping words to "
                         f"ids, got {type(vocab).__name__}.")
    owner = {}
    for word, token_id in vocab.items():
        if (isinstance(token_id, bool) or not isinstance(token_id, int)
                or not 0 <= token_id < vocab_size):
            raise ValueError(
                f"{path}: word {word!r} has id {token_id!r}; ids must be "
                f"integers in [0, {vocab_size - 1}] (vocab_size={vocab_size}).")
        if token_id in owner:
            raise ValueError(f"{path}: id {token_id} is given to both "
                             f"{owner[token_id]!r} and {word!r}.")
        owner[token_id] = word
    return vocab


def pretrained_matrix(vocab, embedding_path, vocab_size, dim, seed=None):
    """Builds the initial token matrix of `vocab` from a GloVe text file.

    Args:
        vocab: dict word -> id (from `load_vocab`).
        embedding_path: GloVe-format text file (optionally `.gz`).
        vocab_size: int. Rows of the matrix.
        dim: int. Expected vector size (`encX_token_embedding_dim`).
        seed: optional int for the OOV rows.

    Returns:
        `PretrainedMatrix`.

    Raises:
        ValueError: naming file and line for a row whose size differs from
            the first row's, a non-numeric value in a kept row, a word given
            twice, or a file dimension that is not `dim`.
    """
    if not os.path.isfile(embedding_path):
        raise ValueError(f"Pretrained embedding file {embedding_path!r} does "
                         "not exist.")
    exact = {word.encode("utf-8"): token_id for word, token_id in
             vocab.items() if token_id != 0}
    lowered = {}
    for word, token_id in vocab.items():
        if token_id != 0:
            lowered.setdefault(word.lower().encode("utf-8"), []).append(
                token_id)
    matrix = np.zeros((vocab_size, dim), np.float32)
    # 2 = exact match, 1 = lower-cased match, 0 = none yet.
    quality = np.zeros(vocab_size, np.int8)
    seen = {}
    rows = 0
    file_dim = None
    with open_data_file(embedding_path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            if file_dim is None:
                # Words may contain spaces in some GloVe files (840B), so
                # the vector is the last `file_dim` fields.
                file_dim = len(line.rstrip(b" ").split(b" ")) - 1
                if file_dim != dim:
                    raise ValueError(
                        f"{embedding_path}, line {lineno}: vectors have "
                        f"{file_dim} values but `token_embedding_dim` is "
                        f"{dim}. Set `encX_token_embedding_dim` to {file_dim}.")
            line = line.rstrip(b" ")
            word, _, values = line.partition(b" ")
            if values.count(b" ") != file_dim - 1:
                # A word with spaces in it, or a ragged row.
                parts = line.rsplit(b" ", file_dim)
                if len(parts) != file_dim + 1 or not parts[0]:
                    raise ValueError(
                        f"{embedding_path}, line {lineno}: expected a word "
                        f"and {file_dim} values (like the first row), got "
                        f"{len(parts) - 1} values.")
                word, values = parts[0], b" ".join(parts[1:])
            if word in seen:
                raise ValueError(
                    f"{embedding_path}, line {lineno}: word "
                    f"{word.decode('utf-8', 'replace')!r} already given on "
                    f"line {seen[word]}.")
            seen[word] = lineno
            rows += 1
            targets = []
            if word in exact:
                targets.append((exact[word], 2))
            targets.extend((i, 1) for i in lowered.get(word, ()))
            if not targets:
                continue  # only the rows of vocab words are parsed
            try:
                vector = np.array(values.split(b" "), dtype=np.float32)
            except ValueError:
                raise ValueError(
                    f"{embedding_path}, line {lineno}: non-numeric value in "
                    f"the vector of {word.decode('utf-8', 'replace')!r}."
                ) from None
            if not np.isfinite(vector).all():
                raise ValueError(
                    f"{embedding_path}, line {lineno}: non-finite value in "
                    f"the vector of {word.decode('utf-8', 'replace')!r}.")
            for token_id, q in targets:
                if q > quality[token_id]:
                    matrix[token_id] = vector
                    quality[token_id] = q
    if file_dim is None:
        raise ValueError(f"{embedding_path}: the file holds no vectors.")
    found = quality > 0
    std = float(matrix[found].std()) if found.any() else 0.1
    rng = np.random.default_rng(seed)
    missing = ~found
    missing[0] = False
    matrix[missing] = rng.normal(0.0, std, (int(missing.sum()), dim))
    ids = np.array([i for i in vocab.values() if i != 0], np.int64)
    return PretrainedMatrix(matrix, found, vocab_words=len(ids),
                            oov_words=int((~found[ids]).sum()),
                            file_rows=rows)
