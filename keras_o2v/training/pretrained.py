"""Loads the auxiliary channel's pretrained vectors into a model."""

import logging
import os

from keras_o2v.data.auxiliary import load_vocab
from keras_o2v.data.auxiliary import pretrained_matrix

logger = logging.getLogger("keras_o2v")


def load_pretrained_embeddings(model, auxiliary, seed=None):
    """Fills the token tables named by `encX_pretrained_embedding_file`.

    Rows of vocab words found in the file take their vectors (frozen if
    `encX_freeze_pretrained_embedding`); other ids start random at the same
    scale and learn. A tied table is loaded once, from enc0's files.

    Args:
        model: `Object2Vec`.
        auxiliary: directory holding the files, or None.
        seed: optional int for the OOV rows.

    Returns:
        dict prefix -> `PretrainedMatrix` for each table loaded.
    """
    hp = model.hyperparameters
    loaded = {}
    for i, encoder in enumerate((model.encoder0, model.encoder1)):
        prefix = f"enc{i}"
        vocab_file = hp[f"{prefix}_vocab_file"]
        vector_file = hp[f"{prefix}_pretrained_embedding_file"]
        if not vocab_file or (i == 1 and hp["tied_token_embedding_weight"]
                              and not vector_file):
            continue
        if auxiliary is None:
            raise ValueError(
                f"`{prefix}_vocab_file={vocab_file!r}` names a file of the "
                "auxiliary channel: pass `auxiliary` (--auxiliary DIR). "
                "Received: auxiliary=None")
        vocab_size = hp[f"{prefix}_vocab_size"]
        vocab = load_vocab(os.path.join(auxiliary, vocab_file), vocab_size)
        if not vector_file:
            continue  # the vocab alone is only checked
        if i == 1 and hp["tied_token_embedding_weight"]:
            continue  # enc0's table, already loaded
        path = os.path.join(auxiliary, vector_file)
        result = pretrained_matrix(vocab, path, vocab_size,
                                   hp[f"{prefix}_token_embedding_dim"], seed)
        freeze = hp[f"{prefix}_freeze_pretrained_embedding"]
        encoder.token_embedding.set_pretrained(result.matrix, result.found,
                                               freeze=freeze)
        logger.info(
            "%s: %d of %d vocab words have vectors in %s (%d rows read); "
            "%d OOV (%.1f%%) start random%s.", prefix,
            result.vocab_words - result.oov_words, result.vocab_words,
            path, result.file_rows, result.oov_words,
            100 * result.oov_rate,
            "; pretrained rows frozen" if freeze else "")
        loaded[prefix] = result
    return loaded
