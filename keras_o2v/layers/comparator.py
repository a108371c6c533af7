"""Comparator: combines the two encodings into one vector."""

import keras
from keras import ops

from keras_o2v.api_export import register
from keras_o2v.hyperparameters import parse_comparator_list

_WIDTH = {"hadamard": 1, "concat": 2, "abs_diff": 1}


def _pair(u, v):
    """`(u, v)` from `f(u, v)` or from Keras' list convention `f([u, v])`."""
    if v is not None:
        return u, v
    # A list of two encodings (or of their shapes), not one shape tuple.
    if (isinstance(u, (list, tuple)) and len(u) == 2
            and not any(x is None or isinstance(x, int) for x in u)):
        return tuple(u)
    raise ValueError(
        "A `Comparator` takes two encodings: `comparator(u, v)` or "
        f"`comparator([u, v])`. Received: u of type {type(u).__name__}, "
        "v=None")


@register
class Comparator(keras.layers.Layer):
    """Concatenates `hadamard` (u*v), `concat` ([u; v]) and `abs_diff`
    (|u - v|) in the order of `comparator_list`.

    The layer has no weights. It takes the two encodings as two arguments,
    `comparator(u, v)`, or as one list, `comparator([u, v])`, as Keras'
    merge layers (`Concatenate`, `Dot`) do.

    Args:
        comparator_list: list of names, or SageMaker's comma-separated string
            (`"hadamard, concat, abs_diff"`, the default).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments: `u`, `v`: encodings of shape `(batch, dim)` with the same
    `dim`. Output shape: `(batch, width * dim)`, width 1 per hadamard or
    abs_diff and 2 for concat (4 for the default list).

    Example:

    ```python
    comparator = keras_o2v.layers.Comparator("hadamard, abs_diff")
    comparator(np.array([[1., 2.]]), np.array([[3., -1.]]))
    # [[3., -2., 2., 3.]]
    ```
    """

    def __init__(self, comparator_list="hadamard, concat, abs_diff",
                 **kwargs):
        comparator_list = parse_comparator_list(comparator_list)
        super().__init__(**kwargs)
        self.comparator_list = comparator_list

    def build(self, u_shape, v_shape=None):
        u_shape, v_shape = _pair(u_shape, v_shape)
        if u_shape[-1] != v_shape[-1]:
            raise ValueError(
                "Both encodings must have the same last dimension (set "
                f"`enc_dim`). Received: u.shape={u_shape}, v.shape={v_shape}"
            )

    def call(self, u, v=None):
        u, v = _pair(u, v)
        parts = []
        for name in self.comparator_list:
            if name == "hadamard":
                parts.append(u * v)
            elif name == "concat":
                parts.extend([u, v])
            else:
                parts.append(ops.abs(u - v))
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, u_shape, v_shape=None):
        u_shape, _ = _pair(u_shape, v_shape)
        width = sum(_WIDTH[name] for name in self.comparator_list)
        dim = None if u_shape[-1] is None else width * u_shape[-1]
        return (*u_shape[:-1], dim)

    def get_config(self):
        return {**super().get_config(),
                "comparator_list": list(self.comparator_list)}
