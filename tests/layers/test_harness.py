"""tests/test_case.py's `run_layer_test` fails on broken layers."""

import keras
import numpy as np
import pytest

from keras_o2v.layers import MLP
from keras_o2v.layers import HCNNEncoder
from tests.test_case import run_layer_test

IDS = np.array([[3, 7, 0]], np.int32)


@keras.saving.register_keras_serializable(package="keras_o2v_tests")
class ForgetsWidth(HCNNEncoder):
    def get_config(self):
        config = super().get_config()
        del config["cnn_filter_width"]
        return config


@keras.saving.register_keras_serializable(package="keras_o2v_tests")
class WrongShape(MLP):
    def compute_output_shape(self, input_shape):
        return tuple(input_shape)  # forgets mlp_dim


def test_a_config_that_drops_an_argument_fails():
    # Keras' config round trip passes (both configs lack the width); the
    # clone with the layer's weights does not.
    with pytest.raises(ValueError, match="weight shape"):
        run_layer_test(ForgetsWidth, {"vocab_size": 10,
                                      "token_embedding_dim": 4, "enc_dim": 6,
                                      "num_layers": 1, "cnn_filter_width": 2},
                       IDS, (1, 6))


def test_a_wrong_compute_output_shape_fails():
    with pytest.raises(AssertionError, match="Expected output shapes"):
        run_layer_test(WrongShape, {"mlp_layers": 1, "mlp_dim": 3},
                       np.ones((2, 5), "float32"), (2, 3))
