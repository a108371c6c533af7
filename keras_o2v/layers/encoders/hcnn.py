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

    `layers` Conv1D blocks (width `cnn_filter_width`, `enc_dim` filters,
    ReLU, "same" padding) are applied one after the other; the output of
    each is max-pooled over the non-padding steps, the pooled vectors are
    concatenated (`layers * enc_dim`) and, for more than one layer, a linear
    `Dense` projects them to `enc_dim` (one layer's pooled vector is the
    encoding: a projection there only slows learning, and cost 0.05 of
    STS-B Pearson). This is the hierarchical ConvNet of InferSent (Conneau
    et al., 2017), which Object2Vec's `hcnn` follows. With
    `cnn_filter_width=1` and one layer it is a per-token ReLU layer,
    max-pooled.

    Masking: `Conv1D` ignores Keras masks, so padded steps are zeroed before
    every convolution; trailing padding therefore cannot change the output.

    Args:
        layers: int. Number of convolution blocks. Defaults to 4.
        cnn_filter_width: int. Convolution width. Defaults to 3.
        Others: see `keras_o2v.layers.encoders.base.Encoder`.

    References:
        - [Conneau et al., 2017](https://arxiv.org/abs/1705.02364)
    """

    def __init__(self, vocab_size, token_embedding_dim, enc_dim, layers=4,
                 cnn_filter_width=3, **kwargs):
        check_positive_int("layers", layers)
        check_positive_int("cnn_filter_width", cnn_filter_width)
        super().__init__(vocab_size, token_embedding_dim, enc_dim, **kwargs)
        self.layers_count = layers
        self.cnn_filter_width = cnn_filter_width
        self.convs = [
            keras.layers.Conv1D(enc_dim, cnn_filter_width, padding="same",
                                activation="relu", dtype=self.dtype_policy,
                                name=f"conv_{i}")
            for i in range(layers)
        ]
        self.pool = MaskedGlobalMaxPooling1D(dtype=self.dtype_policy,
                                             name="pool")
        self.projection = None
        if layers > 1:
            self.projection = keras.layers.Dense(
                enc_dim, dtype=self.dtype_policy, name="projection")

    def build(self, input_shape):
        super().build(input_shape)
        width = self.token_embedding_dim
        for conv in self.convs:
            conv.build((None, None, width))
            width = self.enc_dim
        if self.projection is not None:
            self.projection.build((None, self.layers_count * self.enc_dim))

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
            "layers": self.layers_count,
            "cnn_filter_width": self.cnn_filter_width,
        }
