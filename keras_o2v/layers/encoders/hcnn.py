"""`hcnn`: hierarchical convolutional encoder (InferSent's ConvNet)."""

import keras
from keras import ops

from keras_o2v.api_export import register
from keras_o2v.layers.encoders.base import Encoder
from keras_o2v.layers.pooling import MaskedGlobalMaxPooling1D
from keras_o2v.layers.token_embedding import check_positive_int


@register
class HCNNEncoder(Encoder):
    """Stacked Conv1D layers, each max-pooled over time, concatenated.

    `num_layers` Conv1D blocks (width `cnn_filter_width`, `enc_dim` filters,
    ReLU, "same" padding) are applied one after the other; the output of
    each is max-pooled over the non-padding steps, the pooled vectors are
    concatenated (`num_layers * enc_dim`) and, for more than one layer, a
    linear `Dense` projects them to `enc_dim`. One layer's pooled vector is
    the encoding itself: a projection there only slows learning (see the
    STS-B ablation on the Results page). This is the hierarchical ConvNet of
    InferSent (Conneau et al., 2017), which Object2Vec's `hcnn` follows.
    With `cnn_filter_width=1` and one layer it is a per-token ReLU layer,
    max-pooled.

    Masking: `Conv1D` ignores Keras masks, so padded steps are zeroed before
    every convolution; trailing padding therefore cannot change the output.

    Args:
        vocab_size: int. Number of token ids, including padding id 0.
        token_embedding_dim: int. Size of the token vectors.
        enc_dim: int. Size of the encoding, and filters per convolution.
        num_layers: int. Number of convolution blocks (SageMaker's
            `encX_layers`). Defaults to 4.
        cnn_filter_width: int. Convolution width. Defaults to 3.
        embedding_l2: float. Lazy L2 penalty of the token embedding.
            Defaults to 0.
        token_embedding: optional `TokenEmbedding` shared with another
            encoder. Defaults to a new one.
        freezable_rows: bool. Per-row freeze flag on the token embedding.
            Defaults to False.
        seed: int. Seeds the convolution and projection initialisers; see
            `Encoder`. Defaults to None (a fresh seed).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    ```python
    encoder = keras_o2v.layers.HCNNEncoder(
        vocab_size=100, token_embedding_dim=8, enc_dim=16, num_layers=2)
    encoder(np.array([[4, 9, 7, 0]])).shape  # (1, 16)
    ```

    References:
        - [Conneau et al., 2017](https://arxiv.org/abs/1705.02364)
    """

    def __init__(self, vocab_size, token_embedding_dim, enc_dim, num_layers=4,
                 cnn_filter_width=3, **kwargs):
        check_positive_int("num_layers", num_layers)
        check_positive_int("cnn_filter_width", cnn_filter_width)
        super().__init__(vocab_size, token_embedding_dim, enc_dim, **kwargs)
        self.num_layers = num_layers
        self.cnn_filter_width = cnn_filter_width
        self.convs = [
            keras.layers.Conv1D(
                enc_dim, cnn_filter_width, padding="same", activation="relu",
                kernel_initializer=self.initializer("GlorotUniform"),
                dtype=self.dtype_policy, name=f"conv_{i}")
            for i in range(num_layers)
        ]
        self.pool = MaskedGlobalMaxPooling1D(dtype=self.dtype_policy,
                                             name="pool")
        self.projection = None
        if num_layers > 1:
            self.projection = keras.layers.Dense(
                enc_dim, kernel_initializer=self.initializer("GlorotUniform"),
                dtype=self.dtype_policy, name="projection")

    def build(self, input_shape):
        super().build(input_shape)
        width = self.token_embedding_dim
        for conv in self.convs:
            conv.build((None, None, width))
            width = self.enc_dim
        if self.projection is not None:
            self.projection.build((None, self.num_layers * self.enc_dim))

    def call(self, token_ids):
        x, mask = self.embed(token_ids)
        keep = ops.expand_dims(ops.cast(mask, x.dtype), axis=-1)
        pooled = []
        for conv in self.convs:
            x = conv(x * keep)
            pooled.append(self.pool(x, mask=mask))
        if self.projection is None:
            return pooled[0]
        return self.projection(ops.concatenate(pooled, axis=-1))

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "cnn_filter_width": self.cnn_filter_width,
        }
