import keras
import numpy as np
import pytest
from keras import ops

from keras_o2v.layers import MaskedGlobalAveragePooling1D
from keras_o2v.layers import MaskedGlobalMaxPooling1D
from keras_o2v.layers import TokenEmbedding
from tests.test_case import run_layer_test

# Also run under JAX and PyTorch (tests/backends).
pytestmark = pytest.mark.backend_independent

X = np.array([[[1.0, -5.0], [3.0, -7.0], [9.0, 9.0]]], "float32")
MASK = np.array([[True, True, False]])
POOLS = [MaskedGlobalAveragePooling1D, MaskedGlobalMaxPooling1D]


@pytest.mark.parametrize("cls", POOLS)
def test_layer_behaviors(cls):
    # Without a mask every step counts; the masked path is tested below.
    run_layer_test(cls, {}, X, (1, 2), expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0,
                   supports_masking=True)


@pytest.mark.parametrize("cls,expected", [
    # the padded step [9, 9] is ignored
    (MaskedGlobalAveragePooling1D, [[2.0, -6.0]]),
    (MaskedGlobalMaxPooling1D, [[3.0, -5.0]]),
])
def test_masked_numerics_and_empty_rows(cls, expected):
    pool = cls()
    np.testing.assert_allclose(
        ops.convert_to_numpy(pool(X, mask=MASK)), expected)
    # An all-padding row gives zeros, not NaN or -inf.
    np.testing.assert_allclose(
        ops.convert_to_numpy(pool(X, mask=np.zeros_like(MASK))), [[0, 0]])
    assert pool.compute_mask(X, MASK) is None


@pytest.mark.parametrize("cls", POOLS)
def test_mask_from_token_embedding_propagates(cls):
    # In a functional model Keras hands TokenEmbedding's mask to the pool,
    # so trailing padding cannot change the pooled vector.
    ids = keras.Input((None,), dtype="int32")
    model = keras.Model(ids, cls()(TokenEmbedding(10, 3)(ids)))
    short = model.predict(np.array([[4, 7]]), verbose=0)
    padded = model.predict(np.array([[4, 7, 0, 0, 0]]), verbose=0)
    np.testing.assert_allclose(padded, short, atol=1e-6)
