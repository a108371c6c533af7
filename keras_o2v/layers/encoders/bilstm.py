"""`bilstm`: stacked bidirectional LSTMs, max-pooled over time."""

import keras

from keras_o2v.api_export import register
from keras_o2v.layers.encoders.base import Encoder
from keras_o2v.layers.pooling import MaskedGlobalMaxPooling1D
from keras_o2v.layers.token_embedding import check_positive_int


@register
class BiLSTMEncoder(Encoder):
    """`num_layers` stacked bidirectional LSTMs, max-pooled over time.

    Each direction has `ceil(enc_dim / 2)` units, so the concatenated states
    are about `enc_dim` wide; they are max-pooled over the non-padding steps
    (InferSent's BiLSTM-max). For an odd `enc_dim` a linear `Dense` projects
    the `enc_dim + 1` pooled values to `enc_dim`; otherwise the pooled vector
    is the encoding.

    Two encoders with the same arguments and `seed` start identical;
    `build_object2vec` gives its two towers one seed, so their encodings
    start in one space.

    Masking: the padding mask is passed to every LSTM, so padding is skipped
    in both directions and cannot change the output.

    Args:
        vocab_size: int. Number of token ids, including padding id 0.
        token_embedding_dim: int. Size of the token vectors.
        enc_dim: int. Size of the encoding.
        num_layers: int. Number of stacked BiLSTM layers (SageMaker's
            `encX_layers`). Defaults to 1.
        embedding_l2: float. Lazy L2 penalty of the token embedding.
            Defaults to 0.
        token_embedding: optional `TokenEmbedding` shared with another
            encoder. Defaults to a new one.
        freezable_rows: bool. Per-row freeze flag on the token embedding.
            Defaults to False.
        seed: int. Seeds the LSTM and projection initialisers (Keras'
            defaults: Glorot-uniform kernels, orthogonal recurrent kernels,
            forget-gate bias 1); see `Encoder`. Defaults to None.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    ```python
    encoder = keras_o2v.layers.BiLSTMEncoder(
        vocab_size=100, token_embedding_dim=8, enc_dim=16)
    encoder(np.array([[4, 9, 7, 0]])).shape  # (1, 16)
    ```

    References:
        - [Conneau et al., 2017](https://arxiv.org/abs/1705.02364)
    """

    def __init__(self, vocab_size, token_embedding_dim, enc_dim, num_layers=1,
                 **kwargs):
        check_positive_int("num_layers", num_layers)
        super().__init__(vocab_size, token_embedding_dim, enc_dim, **kwargs)
        self.num_layers = num_layers
        self.units = (enc_dim + 1) // 2
        self.rnns = [self._bilstm(f"bilstm_{i}") for i in range(num_layers)]
        self.pool = MaskedGlobalMaxPooling1D(dtype=self.dtype_policy,
                                             name="pool")
        self.projection = None
        if 2 * self.units != enc_dim:
            self.projection = keras.layers.Dense(
                enc_dim, kernel_initializer=self.initializer("GlorotUniform"),
                dtype=self.dtype_policy, name="projection")

    def _bilstm(self, name):
        """One `Bidirectional(LSTM)`, each direction seeded on its own."""
        forward, backward = (
            keras.layers.LSTM(
                self.units, return_sequences=True, go_backwards=backwards,
                kernel_initializer=self.initializer("GlorotUniform"),
                recurrent_initializer=self.initializer("Orthogonal"),
                dtype=self.dtype_policy,
                name=("backward_" if backwards else "forward_") + name)
            for backwards in (False, True))
        return keras.layers.Bidirectional(
            forward, backward_layer=backward, dtype=self.dtype_policy,
            name=name)

    def build(self, input_shape):
        super().build(input_shape)
        width = self.token_embedding_dim
        for rnn in self.rnns:
            rnn.build((None, None, width))
            width = 2 * self.units
        if self.projection is not None:
            self.projection.build((None, 2 * self.units))

    def call(self, token_ids):
        x, mask = self.embed(token_ids)
        for rnn in self.rnns:
            x = rnn(x, mask=mask)
        pooled = self.pool(x, mask=mask)
        return pooled if self.projection is None else self.projection(pooled)

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers}
