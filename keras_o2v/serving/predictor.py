"""Runs a model's serving signatures on batches of instances.

The server and batch prediction share it: both validate and pad instances
(`keras_o2v.instances`), then make one call of a compiled signature function
(`keras_o2v.export.serving_functions`, the functions a SavedModel export
holds) per batch. Validated ids are int32 in `[0, vocab_size)`, so every
call runs the `_int32` variant of its signature: the same outputs as the
int64 default, without its range check and cast.

Both routes of the server truncate each input to its encoder's
`encX_max_seq_len` (or to the request's `infer_max_seqlens`) before padding,
and may bound the padded size of a call (`max_padded_ids`): the model's
work and memory grow with rows x padded width, not with the payload, so one
long row among many short ones would otherwise pad them all to its length.
"""

import dataclasses
import logging

import numpy as np

from keras_o2v.export import SIGNATURES
from keras_o2v.export import int32_signature
from keras_o2v.export import serving_functions
from keras_o2v.export import signature_for
from keras_o2v.export import signature_inputs
from keras_o2v.hyperparameters import is_weights_key
from keras_o2v.instances import detect_fields
from keras_o2v.instances import record_spec
from keras_o2v.instances import instance_name
from keras_o2v.instances import to_arrays
from keras_o2v.serving.formats import RequestError

logger = logging.getLogger(__name__)

# INFERENCE_PREFERRED_MODE value -> signatures warmed first.
PREFERRED_MODES = {
    "classification": ("serving_default", "embed_in0", "embed_in1"),
    "embedding": ("embed_in0", "embed_in1", "serving_default"),
}


@dataclasses.dataclass
class Batch:
    """Validated, padded inputs of one signature call."""

    signature: str  # any name of `SIGNATURES`
    arrays: dict  # input name -> int32 (n, width)

    @property
    def output(self):
        """The output name: `"scores"` or `"embeddings"`."""
        return SIGNATURES[self.signature].output

    def __len__(self):
        return len(next(iter(self.arrays.values())))


class Predictor:
    """A model's serving signatures, with instance validation in front.

    Thread-safe: the functions have fixed input signatures (traced when
    built) and TensorFlow runs concurrent calls.

    Args:
        model: a `keras_o2v.Object2Vec`, under the TensorFlow or JAX
            backend (others raise a `ValueError`: see `keras_o2v.export`).
    """

    def __init__(self, model):
        self.hyperparameters = dict(model.hyperparameters)
        self.functions = serving_functions(model)

    def warm_up(self, preferred_mode="classification"):
        """Runs every signature once, `preferred_mode`'s first.

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
        for name in PREFERRED_MODES[preferred_mode]:
            self.run(Batch(name, {
                key: np.ones((1, 1), np.float32 if is_weights_key(key)
                             else np.int32)
                for key in signature_inputs(self.hyperparameters, name)}))
            logger.info("Warmed up signature %s.", name)

    def prepare(self, instances, max_seqlens=None, locate=instance_name,
                expected=None, max_padded_ids=None):
        """A `Batch` for SageMaker-style instances; mode from their fields.

        Inputs are truncated to `encX_max_seq_len`, or to `max_seqlens`
        `(in0_len, in1_len)` if given. `expected` is passed to
        `detect_fields`. Raises `ValueError` naming instance and field, or
        the 413 `RequestError` of `check_padded_size`.
        """
        fields = detect_fields(instances, locate, expected)
        spec = record_spec(self.hyperparameters, fields, max_seqlens)
        check_padded_size(instances, {**spec.inputs, **spec.fields},
                          max_padded_ids)
        return Batch(signature_for(fields),
                     to_arrays(instances, spec, locate))

    def prepare_signature(self, signature, instances, locate=instance_name,
                          max_padded_ids=None):
        """A `Batch` for `signature` from instances holding its inputs.

        Inputs are truncated to `encX_max_seq_len`, as `prepare` does (the
        exported SavedModel itself takes ids whole). Raises as `prepare`.
        """
        spec = record_spec(self.hyperparameters,
                           SIGNATURES[signature].inputs)
        check_padded_size(instances, {**spec.inputs, **spec.fields},
                          max_padded_ids)
        return Batch(signature, to_arrays(instances, spec, locate))

    def run(self, batch):
        """One call of the batch's signature: float32 `(n, k)` array.

        Runs the signature's `_int32` variant: the arrays are int32.
        """
        function = self.functions[int32_signature(batch.signature)]
        outputs = function(**batch.arrays)
        return outputs[batch.output].numpy()


def check_padded_size(instances, specs, max_padded_ids):
    """Raises a 413 `RequestError` if padding would exceed `max_padded_ids`.

    The padded size is rows x width summed over the inputs of `specs`,
    width being the longest row after truncation to `max_seq_len`. Checked
    before validation and padding, so that nothing that large is allocated;
    fields that are not lists count as empty (validation names them).
    """
    if max_padded_ids is None:
        return
    shapes, total = [], 0
    for field, spec in specs.items():
        longest = max((len(x[field]) for x in instances
                       if isinstance(x, dict)
                       and isinstance(x.get(field), list)), default=0)
        width = min(longest, spec.max_seq_len)
        shapes.append(f"{field}: {len(instances)} rows x {width}")
        total += len(instances) * width
    if total > max_padded_ids:
        raise RequestError(
            f"The request pads to {total} ids ({' + '.join(shapes)}, after "
            f"truncation), over the limit of max_padded_ids={max_padded_ids}"
            ": split the instances into several requests (rows of similar "
            "lengths pad least), or start the server with a larger "
            "--max-padded-ids.", status=413)
