"""Runs a model's serving signatures on batches of instances.

The server and batch prediction share it: both validate and pad instances
(`keras_o2v.instances`), then make one call of a compiled signature function
(`keras_o2v.export.serving_functions`, the functions a SavedModel export
holds) per batch.
"""

import dataclasses
import logging

import numpy as np

from keras_o2v.export import SIGNATURES
from keras_o2v.export import serving_functions
from keras_o2v.export import signature_for
from keras_o2v.instances import UNLIMITED
from keras_o2v.instances import detect_fields
from keras_o2v.instances import input_specs
from keras_o2v.instances import instance_name
from keras_o2v.instances import to_arrays

logger = logging.getLogger(__name__)

# INFERENCE_PREFERRED_MODE value -> signatures warmed first.
PREFERRED_MODES = {
    "classification": ("serving_default", "embed_in0", "embed_in1"),
    "embedding": ("embed_in0", "embed_in1", "serving_default"),
}


@dataclasses.dataclass
class Batch:
    """Validated, padded inputs of one signature call."""

    signature: str
    arrays: dict  # input name -> int32 (n, width)

    @property
    def output(self):
        """The output name: `"scores"` or `"embeddings"`."""
        return SIGNATURES[self.signature][1]

    def __len__(self):
        return len(next(iter(self.arrays.values())))


class Predictor:
    """A model's serving signatures, with instance validation in front.

    Thread-safe: the functions have fixed input signatures (traced once, by
    `warm_up` or the first call) and TensorFlow runs concurrent calls.

    Args:
        model: a `keras_o2v.Object2Vec`.
    """

    def __init__(self, model):
        self.hyperparameters = dict(model.hyperparameters)
        self.functions = serving_functions(model)

    def warm_up(self, preferred_mode="classification"):
        """Traces and runs every signature once, `preferred_mode`'s first.

        Args:
            preferred_mode: `"classification"` (pair scores first) or
                `"embedding"`, as SageMaker's `INFERENCE_PREFERRED_MODE`.
                On CPU it only sets the order.
        """
        if preferred_mode not in PREFERRED_MODES:
            raise ValueError(
                "`INFERENCE_PREFERRED_MODE` must be one of "
                f"{sorted(PREFERRED_MODES)}. Received: "
                f"INFERENCE_PREFERRED_MODE={preferred_mode!r}")
        one = np.ones((1, 1), np.int32)
        for name in PREFERRED_MODES[preferred_mode]:
            self.run(Batch(name, {f: one for f in SIGNATURES[name][0]}))
            logger.info("Warmed up signature %s.", name)

    def prepare(self, instances, max_seqlens=None, locate=instance_name,
                expected=None):
        """A `Batch` for SageMaker-style instances; mode from their fields.

        Inputs are truncated to `encX_max_seq_len`, or to `max_seqlens`
        `(in0_len, in1_len)` if given. `expected` is passed to
        `detect_fields`. Raises `ValueError` naming instance and field.
        """
        fields = detect_fields(instances, locate, expected)
        specs = input_specs(self.hyperparameters, max_seqlens)
        return Batch(signature_for(fields),
                     to_arrays(instances, {f: specs[f] for f in fields},
                               locate))

    def prepare_signature(self, signature, instances, locate=instance_name):
        """A `Batch` for `signature` from instances holding its inputs.

        Ids are taken whole, as the exported SavedModel takes them.
        """
        specs = input_specs(self.hyperparameters, (UNLIMITED, UNLIMITED))
        inputs = SIGNATURES[signature][0]
        return Batch(signature, to_arrays(
            instances, {f: specs[f] for f in inputs}, locate))

    def run(self, batch):
        """One call of the batch's signature: float32 `(n, k)` array."""
        outputs = self.functions[batch.signature](**batch.arrays)
        return outputs[batch.output].numpy()
