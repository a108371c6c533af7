"""Token embedding with id 0 reserved for padding."""

import keras
from keras import ops

from keras_o2v.api_export import register


def check_positive_int(name, value, minimum=1):
    """Raises the standard "`name` must be ..." error for a bad size arg."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )


@register
class TokenEmbedding(keras.layers.Layer):
    """Maps integer token ids to vectors; id 0 is padding.

    Id 0 is reserved for padding: every encoder ignores positions holding 0
    (the mask is `ids != 0`), so a sequence padded with trailing zeros encodes
    exactly like the unpadded one. Row 0 of the table exists but never reaches
    an encoder output.

    Args:
        vocab_size: int. Number of ids, including the padding id 0.
        embedding_dim: int. Size of each token vector.
        embeddings_initializer: initializer for the table. Defaults to
            `"uniform"` (Keras' `Embedding` default).

    Input shape: `(batch, seq_len)` int ids. Output shape:
    `(batch, seq_len, embedding_dim)`, with mask `(batch, seq_len)`.

    Example:

    ```python
    layer = keras_o2v.layers.TokenEmbedding(vocab_size=10, embedding_dim=4)
    vectors = layer(np.array([[3, 5, 0]]))  # (1, 3, 4); position 2 masked
    ```
    """

    def __init__(self, vocab_size, embedding_dim,
                 embeddings_initializer="uniform", **kwargs):
        check_positive_int("vocab_size", vocab_size, minimum=2)
        check_positive_int("embedding_dim", embedding_dim)
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer)
        self.supports_masking = True

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.vocab_size, self.embedding_dim),
            initializer=self.embeddings_initializer,
        )
        self.built = True

    def call(self, token_ids):
        if not self.built:
            self.build()
        token_ids = ops.cast(token_ids, "int32")
        return ops.take(self.embeddings, token_ids, axis=0)

    def compute_mask(self, token_ids, mask=None):
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer),
        }
