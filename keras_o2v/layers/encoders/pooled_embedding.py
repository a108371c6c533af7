"""`pooled_embedding`: masked mean of the token embeddings."""

import keras

from keras_o2v.api_export import register
from keras_o2v.layers.encoders.base import Encoder
from keras_o2v.layers.pooling import MaskedGlobalAveragePooling1D


@register
class PooledEmbeddingEncoder(Encoder):
    """Averages the embeddings of the non-padding tokens.

    On a single-token input this is a plain embedding lookup, which is how
    Object2Vec encodes ids such as users or items. When `token_embedding_dim`
    equals `enc_dim` the mean is the encoding (SageMaker's design); otherwise
    a linear `Dense` projects it to `enc_dim`. An all-padding row encodes to
    zeros (no NaN).

    Masking: the mean runs over the non-padding ids only, so trailing
    padding cannot change the output.

    Args:
        vocab_size: int. Number of token ids, including padding id 0.
        token_embedding_dim: int. Size of the token vectors.
        enc_dim: int. Size of the encoding.
        embedding_l2: float. Lazy L2 penalty of the token embedding.
            Defaults to 0.
        token_embedding: optional `TokenEmbedding` shared with another
            encoder. Defaults to a new one.
        freezable_rows: bool. Per-row freeze flag on the token embedding.
            Defaults to False.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    ```python
    encoder = keras_o2v.layers.PooledEmbeddingEncoder(
        vocab_size=100, token_embedding_dim=8, enc_dim=8)
    encoder(np.array([[4, 9, 0, 0]])).shape  # (1, 8)
    ```
    """

    def __init__(self, vocab_size, token_embedding_dim, enc_dim, **kwargs):
        super().__init__(vocab_size, token_embedding_dim, enc_dim, **kwargs)
        self.pool = MaskedGlobalAveragePooling1D(
            dtype=self.dtype_policy, name="pool")
        self.projection = None
        if token_embedding_dim != enc_dim:
            self.projection = keras.layers.Dense(
                enc_dim, dtype=self.dtype_policy, name="projection")

    def build(self, input_shape):
        super().build(input_shape)
        if self.projection is not None:
            self.projection.build((None, self.token_embedding_dim))

    def call(self, token_ids):
        vectors, mask = self.embed(token_ids)
        pooled = self.pool(vectors, mask=mask)
        return pooled if self.projection is None else self.projection(pooled)
