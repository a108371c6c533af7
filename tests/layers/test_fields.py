"""Layers of feature-rich objects: weighted pooling, field encoder, id bias."""

import numpy as np
import pytest
from keras import ops

from keras_o2v.layers import FieldEncoder
from keras_o2v.layers import IdBias
from keras_o2v.layers import WeightedPooling
from tests.test_case import run_layer_test

# Also run under JAX and PyTorch (tests/backends).
pytestmark = pytest.mark.backend_independent

X = np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]],
              [[5.0, 6.0], [7.0, 8.0], [0.0, 0.0]]], "float32")
MASK = np.array([[True, True, False], [False, False, False]])
W = np.array([[3.0, 1.0, 5.0], [1.0, 1.0, 1.0]], "float32")


def numpy_pool(x, mask, w, combiner):
    w = w * mask
    total = (x * w[..., None]).sum(axis=1)
    if combiner == "sum":
        return total
    norm = (w.sum(axis=1) if combiner == "mean"
            else np.sqrt((w ** 2).sum(axis=1)))[:, None]
    return np.where(norm == 0, 0.0, total / np.where(norm == 0, 1, norm))


@pytest.mark.parametrize("combiner", ["mean", "sum", "sqrtn"])
def test_weighted_pooling_matches_numpy(combiner):
    pool = WeightedPooling(combiner)
    out = ops.convert_to_numpy(pool(X, mask=MASK, weights=W))
    np.testing.assert_allclose(out, numpy_pool(X, MASK, W, combiner),
                               rtol=1e-6)
    # Row 1 is all padding: zeros, not NaN.
    np.testing.assert_array_equal(out[1], [0.0, 0.0])
    # The padded step's vector and weight (9, 9; 5) never count.
    x2, w2 = X.copy(), W.copy()
    x2[0, 2], w2[0, 2] = [-100.0, 100.0], 77.0
    np.testing.assert_allclose(
        ops.convert_to_numpy(pool(x2, mask=MASK, weights=w2)), out)


def test_weighted_pooling_without_weights_is_the_masked_mean():
    out = ops.convert_to_numpy(WeightedPooling("mean")(X, mask=MASK))
    np.testing.assert_allclose(out[0], [2.0, 3.0])
    sqrtn = ops.convert_to_numpy(WeightedPooling("sqrtn")(X, mask=MASK))
    np.testing.assert_allclose(sqrtn[0], np.array([4.0, 6.0]) / np.sqrt(2),
                               rtol=1e-6)


def test_weighted_pooling_rejects_unknown_combiner():
    with pytest.raises(ValueError, match="`combiner` must be one of "
                       r"\['mean', 'sum', 'sqrtn'\]. Received: "
                       "combiner='max'"):
        WeightedPooling("max")


def test_weighted_pooling_layer_behaviors():
    run_layer_test(WeightedPooling, {"combiner": "sqrtn"}, X, (2, 2),
                   expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0,
                   supports_masking=True)


def test_field_encoder_layer_behaviors():
    run_layer_test(FieldEncoder, {"vocab_size": 10, "enc_dim": 4,
                                  "combiner": "sum"},
                   np.array([[3, 7, 0], [0, 0, 0]], "int32"), (2, 4),
                   expected_num_trainable_weights=1)


def test_field_encoder_pools_its_rows_with_weights():
    layer = FieldEncoder(vocab_size=10, enc_dim=3, combiner="mean",
                         weighted=True)
    ids = np.array([[3, 7, 0], [0, 0, 0]], "int32")
    weights = np.array([[2.0, 1.0, 9.0], [1.0, 1.0, 1.0]], "float32")
    out = ops.convert_to_numpy(layer(ids, weights))
    table = ops.convert_to_numpy(layer.token_embedding.embeddings)
    np.testing.assert_allclose(out[0], (2 * table[3] + table[7]) / 3,
                               rtol=1e-5)
    np.testing.assert_array_equal(out[1], np.zeros(3))  # empty field
    # Padding to any width encodes the same.
    wider = ops.convert_to_numpy(layer(
        np.pad(ids, ((0, 0), (0, 4))), np.pad(weights, ((0, 0), (0, 4)))))
    np.testing.assert_allclose(wider, out, rtol=1e-6)
    with pytest.raises(ValueError, match="is weighted: `weights` must be "
                       "given"):
        layer(ids)


def test_id_bias_starts_at_zero_and_means_a_rows_ids():
    bias = IdBias(vocab_size=6, l2=0.5)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(bias(np.array([[3], [5]]))), [[0.0], [0.0]])
    bias.table.embeddings.assign(np.arange(6, dtype="float32")[:, None])
    np.testing.assert_allclose(
        ops.convert_to_numpy(bias(np.array([[3, 0], [5, 1]]))),
        [[3.0], [3.0]])
    run_layer_test(IdBias, {"vocab_size": 6, "l2": 0.5},
                   np.array([[3], [5]], "int32"), (2, 1),
                   expected_num_trainable_weights=1, expected_num_losses=1)
