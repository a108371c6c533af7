"""Shared plumbing of the sequence encoders: token embedding and config."""

import keras

from keras_o2v.layers.token_embedding import TokenEmbedding
from keras_o2v.layers.token_embedding import check_positive_int


class Encoder(keras.layers.Layer):
    """Base class: token ids `(batch, seq_len)` -> encoding `(batch, enc_dim)`.

    Id 0 is padding and never influences the encoding.

    Args:
        vocab_size: int. Number of token ids, including padding id 0.
        token_embedding_dim: int. Size of the token vectors.
        enc_dim: int. Size of the encoding.
        embedding_l2: float. Lazy L2 penalty of the token embedding (see
            `TokenEmbedding`). Defaults to 0.
        token_embedding: optional `TokenEmbedding` to use instead of a new
            one, to tie the embedding of two encoders. It is not part of
            `get_config`: `Object2Vec` re-ties the encoders when it is rebuilt.
        freezable_rows: bool. Give the token embedding a per-row freeze flag
            (see `TokenEmbedding`), for frozen pretrained vectors. Defaults
            to False.
    """

    def __init__(self, vocab_size, token_embedding_dim, enc_dim,
                 embedding_l2=0.0, token_embedding=None, freezable_rows=False,
                 **kwargs):
        check_positive_int("vocab_size", vocab_size, minimum=2)
        check_positive_int("token_embedding_dim", token_embedding_dim)
        check_positive_int("enc_dim", enc_dim)
        if token_embedding is not None and (
            token_embedding.vocab_size != vocab_size
            or token_embedding.embedding_dim != token_embedding_dim
        ):
            raise ValueError(
                "A shared `token_embedding` must match `vocab_size` and "
                "`token_embedding_dim`. Received: token_embedding with "
                f"vocab_size={token_embedding.vocab_size}, embedding_dim="
                f"{token_embedding.embedding_dim}; vocab_size={vocab_size}, "
                f"token_embedding_dim={token_embedding_dim}"
            )
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.token_embedding_dim = token_embedding_dim
        self.enc_dim = enc_dim
        self.embedding_l2 = embedding_l2
        self.freezable_rows = freezable_rows
        self.token_embedding = token_embedding or TokenEmbedding(
            vocab_size, token_embedding_dim, l2=embedding_l2,
            freezable_rows=freezable_rows,
            dtype=self.dtype_policy, name="token_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)

    def embed(self, token_ids):
        """Returns token vectors and the boolean padding mask."""
        return (self.token_embedding(token_ids),
                self.token_embedding.compute_mask(token_ids))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.enc_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "token_embedding_dim": self.token_embedding_dim,
            "enc_dim": self.enc_dim,
            "embedding_l2": self.embedding_l2,
            "freezable_rows": self.freezable_rows,
        }
