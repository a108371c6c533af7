"""A small layer-test harness, in the spirit of keras' private TestCase."""

import json

import keras
import numpy as np
from keras import ops


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape,
                   expected_num_trainable_weights=None, call_args=None):
    """Builds, calls, serialises and reloads a layer; returns its output.

    Checks: output shape; trainable weight count; `get_config` -> JSON ->
    `from_config` gives the same config and, with copied weights, the same
    output; `keras.layers.serialize` round trip through the registry.
    """
    call_args = call_args or {}
    inputs = input_data if isinstance(input_data, (list, tuple)) else [
        input_data]
    layer = layer_cls(**init_kwargs)
    output = ops.convert_to_numpy(layer(*inputs, **call_args))
    assert output.shape == tuple(expected_output_shape), output.shape
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    config = layer.get_config()
    config_json = json.loads(json.dumps(config))
    clone = layer_cls.from_config(config_json)
    assert clone.get_config() == config
    clone(*inputs, **call_args)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(clone(*inputs, **call_args)), output, atol=1e-6)
    revived = keras.layers.deserialize(
        json.loads(json.dumps(keras.layers.serialize(layer))))
    assert type(revived) is layer_cls
    assert revived.get_config() == config
    return output
