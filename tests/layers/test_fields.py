"""Layers of feature-rich objects: weighted pooling, field encoder, id bias."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_o2v.layers import FieldEncoder
from keras_o2v.layers import IdBias
from keras_o2v.layers import WeightedPooling
from keras_o2v.layers.fields import field_lookup
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


@pytest.mark.parametrize("lookup", ["gather", "matmul"])
def test_field_encoder_pools_its_rows_with_weights(lookup):
    layer = FieldEncoder(vocab_size=10, enc_dim=3, combiner="mean",
                         weighted=True, lookup=lookup)
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


@pytest.mark.parametrize("combiner", ["mean", "sum", "sqrtn"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matmul_lookup_matches_gather_with_its_penalty(combiner, weighted):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 12, (5, 9)).astype("int32")
    ids[:, 6:] = 0
    ids[2] = 0  # an empty row
    ids[0, :3] = 4  # one id several times
    weights = rng.uniform(0.0, 2.0, (5, 9)).astype("float32")
    outputs, losses = [], []
    for lookup in ("gather", "matmul"):
        layer = FieldEncoder(12, 4, combiner=combiner, weighted=weighted,
                             embedding_l2=0.3, lookup=lookup)
        layer.build()
        layer.token_embedding.embeddings.assign(
            rng.normal(size=(12, 4)).astype("float32") if not outputs
            else table)
        table = ops.convert_to_numpy(layer.token_embedding.embeddings)
        outputs.append(ops.convert_to_numpy(
            layer(ids, weights if weighted else None)))
        losses.append(float(ops.convert_to_numpy(layer.losses[0])))
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(outputs[1][2], np.zeros(4))
    # 0.3 * the mean over rows of each looked-up vector's squared norm.
    squares = (table ** 2).sum(axis=1)
    expected = 0.3 * np.mean([(squares[r[r > 0]]).sum() for r in ids])
    np.testing.assert_allclose(losses, [expected, expected], rtol=1e-5)


def test_field_encoder_matmul_lookup_layer_behaviors():
    run_layer_test(FieldEncoder, {"vocab_size": 10, "enc_dim": 4,
                                  "combiner": "sqrtn", "lookup": "matmul",
                                  "embedding_l2": 0.1},
                   np.array([[3, 7, 3], [0, 0, 0]], "int32"), (2, 4),
                   expected_num_trainable_weights=1, expected_num_losses=1)


def test_field_encoder_rejects_unknown_lookup():
    with pytest.raises(ValueError, match=r"`lookup` must be one of "
                       r"\['gather', 'matmul'\]. Received: lookup='dense'"):
        FieldEncoder(10, 4, lookup="dense")


def test_field_lookup_picks_matmul_for_long_rows_over_small_vocabularies():
    long_rows = "gather" if keras.backend.backend() == "torch" else "matmul"
    assert field_lookup(944, 943) == long_rows  # a movie's raters
    assert field_lookup(64, 4) == long_rows
    assert field_lookup(10000, 50) == "gather"  # 200 ids per step
    assert field_lookup(40000, 5000) == "gather"  # too many columns


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="gradients read with tf.GradientTape")
def test_weighted_sum_gradient_skips_frozen_rows():
    import tensorflow as tf

    from keras_o2v.layers import TokenEmbedding

    layer = TokenEmbedding(6, 3, l2=0.1, freezable_rows=True)
    layer.set_pretrained(np.ones((6, 3), "float32"),
                         np.array([0, 1, 0, 0, 1, 0], bool))
    ids = np.array([[1, 2, 4, 0], [5, 5, 0, 0]], "int32")
    with tf.GradientTape() as tape:
        out = layer.weighted_sum(ids)
        loss = tf.reduce_sum(out) + tf.add_n(layer.losses)
    grad = tf.convert_to_tensor(tape.gradient(loss, layer.embeddings.value))
    np.testing.assert_allclose(ops.convert_to_numpy(out),
                               [[3.0] * 3, [2.0] * 3])
    touched = np.abs(grad.numpy()).sum(axis=1) > 0
    # Rows 1 and 4 are frozen, rows 0 (padding) and 3 not looked up.
    np.testing.assert_array_equal(touched, [0, 0, 1, 0, 0, 1])


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
