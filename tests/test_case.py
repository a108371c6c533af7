"""The layer-test harness: Keras' own `run_layer_test`, plus a weights check.

Keras' `run_layer_test` (keras/src/testing/test_case.py) builds the layer
from its config, calls it symbolically (`compute_output_shape` /
`compute_output_spec`) and eagerly, checks weight counts, `supports_masking`
and the output mask, runs one compiled training step, calls it under the
`mixed_float16` policy (skipped by Keras on CPU PyTorch) and round-trips
`get_config` and `keras.saving` serialisation through JSON. It is private
Keras API: this module is the only place that imports it, so a move in
Keras changes one file.

`run_layer_test` below adds what Keras' harness leaves out: a clone made
from the JSON config, given the layer's weights, computes the same output
(a config argument that `__init__` ignored would show up here).
"""

import json
import warnings

import keras
import numpy as np
from keras import ops
from keras.src.testing import TestCase as _KerasTestCase


class _Harness(_KerasTestCase):
    def runTest(self):  # unittest needs one test method to make an instance
        pass


def _call(layer, inputs, call_kwargs):
    if isinstance(inputs, dict):
        return layer(**inputs, **call_kwargs)
    return layer(inputs, **call_kwargs)


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape,
                   call_kwargs=None, **keras_kwargs):
    """Runs Keras' layer checks, then the weights round trip.

    Args:
        layer_cls: the layer class.
        init_kwargs: dict of constructor arguments.
        input_data: the call input: an array, a list of arrays (Keras' merge
            layer convention, one argument) or a dict of named arguments.
        expected_output_shape: tuple.
        call_kwargs: optional dict of more call arguments.
        **keras_kwargs: more `keras.src.testing.TestCase.run_layer_test`
            arguments (`expected_num_trainable_weights`,
            `expected_num_non_trainable_weights`, `supports_masking`,
            `expected_mask_shape`, `run_training_check`, ...).

    Returns:
        The eager output of a fresh layer, as a NumPy array.
    """
    call_kwargs = call_kwargs or {}
    harness = _Harness()
    harness.setUp()
    with warnings.catch_warnings():
        # The training step feeds `fit` a generator (its shuffle default
        # does not apply), also for layers without weights.
        warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
        warnings.filterwarnings(
            "ignore", message="The model does not have any trainable weights")
        harness.run_layer_test(
            layer_cls, init_kwargs, input_data=input_data,
            call_kwargs=call_kwargs,
            expected_output_shape=expected_output_shape, **keras_kwargs)

    layer = layer_cls(**init_kwargs)
    output = ops.convert_to_numpy(_call(layer, input_data, call_kwargs))
    clone = layer_cls.from_config(json.loads(json.dumps(layer.get_config())))
    _call(clone, input_data, call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(_call(clone, input_data, call_kwargs)), output,
        atol=1e-6)
    # Registered: deserialising needs no custom_objects.
    revived = keras.layers.deserialize(
        json.loads(json.dumps(keras.layers.serialize(layer))))
    assert type(revived) is layer_cls
    return output
