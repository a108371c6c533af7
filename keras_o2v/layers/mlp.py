"""The MLP between the comparator and the output layer."""

import keras

from keras_o2v.api_export import register
from keras_o2v.hyperparameters import MLP_ACTIVATIONS

_MAX_LAYERS = 10


@register
class MLP(keras.layers.Layer):
    """`mlp_layers` Dense layers of `mlp_dim` units, each followed by dropout.

    It sits between the `Comparator` and the output layer of `Object2Vec`.
    With `mlp_layers=0` the layer is the identity. Dropout is active only in
    training.

    Args:
        mlp_layers: int in [0, 10]. Defaults to 2.
        mlp_dim: int. Units per layer. Defaults to 512.
        mlp_activation: `"tanh"`, `"relu"` or `"linear"`. Defaults to
            `"linear"`.
        dropout: float in [0, 1). Dropout rate after each layer. Defaults to 0.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, features)`. Output shape: `(batch, mlp_dim)`, or
    the input shape for `mlp_layers=0`.

    Example:

    ```python
    mlp = keras_o2v.layers.MLP(mlp_layers=2, mlp_dim=16,
                               mlp_activation="relu", dropout=0.1)
    mlp(np.ones((4, 32))).shape  # (4, 16)
    ```
    """

    def __init__(self, mlp_layers=2, mlp_dim=512, mlp_activation="linear",
                 dropout=0.0, **kwargs):
        if (isinstance(mlp_layers, bool) or not isinstance(mlp_layers, int)
                or not 0 <= mlp_layers <= _MAX_LAYERS):
            raise ValueError(
                f"`mlp_layers` must be an integer in [0, {_MAX_LAYERS}]. "
                f"Received: mlp_layers={mlp_layers!r}")
        if mlp_activation not in MLP_ACTIVATIONS:
            raise ValueError(
                f"`mlp_activation` must be one of {list(MLP_ACTIVATIONS)}. "
                f"Received: mlp_activation={mlp_activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError("`dropout` must be a float in [0, 1). "
                             f"Received: dropout={dropout!r}")
        super().__init__(**kwargs)
        self.mlp_layers = mlp_layers
        self.mlp_dim = mlp_dim
        self.mlp_activation = mlp_activation
        self.dropout = dropout
        self.dense_layers = [
            keras.layers.Dense(mlp_dim, activation=mlp_activation,
                               dtype=self.dtype_policy, name=f"dense_{i}")
            for i in range(mlp_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout,
                                                  dtype=self.dtype_policy)

    def build(self, input_shape):
        width = input_shape[-1]
        for dense in self.dense_layers:
            dense.build((None, width))
            width = self.mlp_dim

    def call(self, inputs, training=None):
        x = inputs
        for dense in self.dense_layers:
            x = self.dropout_layer(dense(x), training=training)
        return x

    def compute_output_shape(self, input_shape):
        if not self.mlp_layers:
            return tuple(input_shape)
        return (*input_shape[:-1], self.mlp_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "mlp_layers": self.mlp_layers,
            "mlp_dim": self.mlp_dim,
            "mlp_activation": self.mlp_activation,
            "dropout": self.dropout,
        }
