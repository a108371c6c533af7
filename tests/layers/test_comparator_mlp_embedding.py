import keras
import numpy as np
import pytest
from keras import ops

from keras_o2v.layers import MLP
from keras_o2v.layers import Comparator
from keras_o2v.layers import TokenEmbedding
from tests.test_case import run_layer_test

U = np.array([[1.0, 2.0]], "float32")
V = np.array([[3.0, -1.0]], "float32")

# Also run under JAX and PyTorch (tests/backends).
pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize("comparators,width", [
    ("hadamard, concat, abs_diff", 8),
    (["hadamard"], 2),
    ("concat", 4),
    ("abs_diff,hadamard", 4),
])
def test_comparator_layer_behaviors(comparators, width):
    # A tuple of inputs is one call argument, as for Keras' merge layers
    # (the training step feeds it through `fit`, which takes tuples).
    run_layer_test(Comparator, {"comparator_list": comparators}, (U, V),
                   (1, width), expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0)


def test_comparator_two_arguments_equal_a_list():
    comparator = Comparator()
    np.testing.assert_allclose(ops.convert_to_numpy(comparator(U, V)),
                               ops.convert_to_numpy(comparator([U, V])))
    u, v = keras.Input((2,)), keras.Input((2,))
    assert comparator(u, v).shape == comparator([u, v]).shape == (None, 8)
    with pytest.raises(ValueError, match="takes two encodings"):
        comparator(U)


def test_comparator_numerics_follow_the_given_order():
    out = ops.convert_to_numpy(Comparator("hadamard, concat, abs_diff")(U, V))
    # hadamard [3, -2] | concat [1, 2, 3, -1] | abs_diff [2, 3]
    np.testing.assert_allclose(out, [[3, -2, 1, 2, 3, -1, 2, 3]])
    out = ops.convert_to_numpy(Comparator("abs_diff, hadamard")(U, V))
    # abs_diff [2, 3] | hadamard [3, -2]
    np.testing.assert_allclose(out, [[2, 3, 3, -2]])


@pytest.mark.parametrize("bad", ["", "dot", "hadamard, cosine", [],
                                 "hadamard, hadamard"])
def test_comparator_rejects_bad_lists(bad):
    with pytest.raises(ValueError, match="`comparator_list` must be a "
                                         "comma-separated"):
        Comparator(bad)


@pytest.mark.parametrize("as_list", [False, True], ids=["args", "list"])
def test_comparator_rejects_unequal_dims(as_list):
    w = np.ones((1, 3), "float32")
    with pytest.raises(ValueError, match="same last dimension"):
        Comparator()([U, w]) if as_list else Comparator()(U, w)


@pytest.mark.parametrize("kwargs,shape,n_weights,n_seeds", [
    ({"mlp_layers": 2, "mlp_dim": 3, "mlp_activation": "tanh",
      "dropout": 0.1}, (2, 3), 4, 1),
    ({"mlp_layers": 0}, (2, 5), 0, 0),
], ids=["two_layers", "identity"])
def test_mlp_layer_behaviors(kwargs, shape, n_weights, n_seeds):
    # Dropout's seed generator (rate > 0 only) is a variable, not a weight.
    run_layer_test(MLP, kwargs, np.ones((2, 5), "float32"), shape,
                   expected_num_trainable_weights=n_weights,
                   expected_num_non_trainable_weights=0,
                   expected_num_seed_generators=n_seeds)


def test_mlp_zero_layers_is_identity():
    x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(MLP(mlp_layers=0)(x)), x)


def test_mlp_relu_numerics():
    mlp = MLP(mlp_layers=1, mlp_dim=2, mlp_activation="relu")
    mlp.build((None, 2))
    mlp.set_weights([np.array([[1.0, -1.0], [1.0, -1.0]], "float32"),
                     np.zeros(2, "float32")])
    # [1, 2] @ kernel = [3, -3] -> relu -> [3, 0]
    np.testing.assert_allclose(ops.convert_to_numpy(mlp(U)), [[3.0, 0.0]])


@pytest.mark.parametrize("kwargs,message", [
    ({"mlp_layers": 11}, "`mlp_layers` must be an integer in \\[0, 10\\]"),
    ({"mlp_activation": "gelu"}, "`mlp_activation` must be one of"),
    ({"dropout": 1.0}, "`dropout` must be a float in \\[0, 1\\)"),
])
def test_mlp_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


@pytest.mark.parametrize("kwargs,non_trainable,losses", [
    ({}, 0, 0),
    # the per-row freeze flag; the lazy L2 penalty adds one loss per call
    ({"freezable_rows": True, "l2": 0.5}, 1, 1),
], ids=["plain", "frozen_rows_l2"])
def test_token_embedding_layer_behaviors(kwargs, non_trainable, losses):
    out = run_layer_test(
        TokenEmbedding, {"vocab_size": 5, "embedding_dim": 2, **kwargs},
        np.array([[1, 4, 0]]), (1, 3, 2), expected_num_trainable_weights=1,
        expected_num_non_trainable_weights=non_trainable,
        expected_num_losses=losses, supports_masking=True,
        expected_mask_shape=(1, 3))
    assert out.shape == (1, 3, 2)


def test_token_embedding_mask_is_nonzero_ids():
    layer = TokenEmbedding(5, 2)
    mask = ops.convert_to_numpy(layer.compute_mask(np.array([[1, 4, 0]])))
    np.testing.assert_array_equal(mask, [[True, True, False]])
