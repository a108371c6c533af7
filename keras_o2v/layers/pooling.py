"""Masked pooling over time that never yields NaN or -inf."""

import keras
import numpy as np
from keras import ops

from keras_o2v.api_export import register


def _float_mask(mask, x):
    return ops.expand_dims(ops.cast(mask, x.dtype), axis=-1)


@register
class MaskedGlobalAveragePooling1D(keras.layers.Layer):
    """Mean over the unmasked time steps; an all-padding row gives zeros.

    Keras' own masked mean divides by the raw mask count (NaN on an empty
    row); here the count is clamped to 1.

    Masking: the mask comes from the previous layer (e.g. `TokenEmbedding`)
    or the `mask` call argument; without one every step counts. The output
    has no time axis, so no mask.

    Args:
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, steps, features)` plus a `(batch, steps)` mask.
    Output shape: `(batch, features)`.

    Example:

    ```python
    pool = keras_o2v.layers.MaskedGlobalAveragePooling1D()
    x = np.array([[[1., 2.], [3., 4.], [9., 9.]]])
    pool(x, mask=np.array([[True, True, False]]))  # [[2., 3.]]
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        m = _float_mask(mask, inputs)
        total = ops.sum(inputs * m, axis=1)
        return total / ops.maximum(ops.sum(m, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@register
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over the unmasked time steps; an all-padding row gives zeros.

    `keras.layers.GlobalMaxPooling1D` rejects masks, so padded steps are
    filled with the dtype's lowest value before the max.

    Masking: the mask comes from the previous layer (e.g. `TokenEmbedding`)
    or the `mask` call argument; without one every step counts. The output
    has no time axis, so no mask.

    Args:
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, steps, features)` plus a `(batch, steps)` mask.
    Output shape: `(batch, features)`.

    Example:

    ```python
    pool = keras_o2v.layers.MaskedGlobalMaxPooling1D()
    x = np.array([[[1., -5.], [3., -7.], [9., 9.]]])
    pool(x, mask=np.array([[True, True, False]]))  # [[3., -5.]]
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        lowest = ops.cast(np.finfo(dtype).min, inputs.dtype)
        m = ops.expand_dims(mask, axis=-1)
        pooled = ops.max(ops.where(m, inputs, lowest), axis=1)
        any_valid = ops.any(m, axis=1)
        return ops.where(any_valid, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
