"""Embeddings and pair scores from a trained model, in SageMaker's modes.

The mode follows SageMaker: an instance with only `in0` (or only `in1`) is
embedded by that encoder; an instance with both is scored.
"""

import json

import numpy as np
from keras import ops

from keras_o2v.atomic import atomic_path
from keras_o2v.data import read_records
from keras_o2v.instances import CHANNELS
from keras_o2v.instances import detect_fields
from keras_o2v.instances import record_spec
from keras_o2v.instances import to_arrays

DEFAULT_BATCH_SIZE = 1024


def _check_channel(channel):
    if channel not in CHANNELS:
        raise ValueError(f"`channel` must be one of {list(CHANNELS)}. "
                         f"Received: channel={channel!r}")


def _in_batches(fn, n, batch_size):
    # `convert_to_numpy`, not `np.asarray`: PyTorch outputs track gradients.
    out = [ops.convert_to_numpy(fn(slice(start, start + batch_size)))
           for start in range(0, n, batch_size)]
    return np.concatenate(out)


def _encode_padded(model, channel, arrays, batch_size):
    """Embeddings of padded `arrays` (`channel` and its extra fields)."""
    n = len(arrays[channel])
    if not n:
        return np.zeros((0, model.hyperparameters["enc_dim"]), np.float32)
    return _in_batches(
        lambda s: model.encode(channel, {k: a[s] for k, a in arrays.items()}),
        n, batch_size)


def _score_padded(model, arrays, batch_size):
    return _in_batches(
        lambda s: model.pair_scores({f: a[s] for f, a in arrays.items()}),
        len(arrays["in0"]), batch_size)


def embed(model, instances, channel="in0", batch_size=DEFAULT_BATCH_SIZE):
    """Embeds instances with encoder 0 (`channel="in0"`) or 1 (`"in1"`).

    Args:
        model: a trained `keras_o2v.Object2Vec`.
        instances: list of dicts holding `channel` (`{"in0": [3, 9]}`, and
            the side's extra fields for feature-rich objects) or of id
            lists (`[3, 9]`).
        channel: `"in0"` or `"in1"`.
        batch_size: int. Instances per encoder call.

    Returns:
        float32 array `(len(instances), enc_dim)`.
    """
    _check_channel(channel)
    records = [x if isinstance(x, dict) else {channel: x} for x in instances]
    if not records:
        return _encode_padded(model, channel, {channel: []}, batch_size)
    arrays = to_arrays(records, record_spec(model.hyperparameters,
                                            (channel,)))
    return _encode_padded(model, channel, arrays, batch_size)


def predict(model, instances, batch_size=DEFAULT_BATCH_SIZE):
    """Pair scores or embeddings, the mode chosen from the instances.

    As SageMaker's endpoint: instances with both `in0` and `in1` get pair
    scores; instances with only `in0` (or only `in1`) get that encoder's
    embeddings. All instances must ask for the same mode. Other keys (such
    as `label`) are ignored; inputs longer than `encX_max_seq_len` keep
    their head.

    Args:
        model: a trained `keras_o2v.Object2Vec`.
        instances: non-empty list of dicts, e.g.
            `[{"in0": [6, 17, 606], "in1": [16, 21]}]`.
        batch_size: int. Instances per model call.

    Returns:
        float32 array: scores `(n, num_classes)` (softmax probabilities) or
        `(n, 1)` (regression); embeddings `(n, enc_dim)`.

    Raises:
        ValueError: naming the instance and field of a bad instance, or of
            the first instance whose mode differs from instance 0's.
    """
    instances = list(instances)
    fields = detect_fields(instances)
    arrays = to_arrays(instances, record_spec(model.hyperparameters, fields))
    if len(fields) == 1:
        return _encode_padded(model, fields[0], arrays, batch_size)
    return _score_padded(model, arrays, batch_size)


def embed_file(model, input_path, output_path, channel="in0",
               batch_size=DEFAULT_BATCH_SIZE):
    """Embeds a JSON Lines file into `{"embeddings": [...]}` lines.

    The output is written to a temporary file and renamed when complete.

    Returns:
        int, the number of embeddings written.
    """
    _check_channel(channel)
    spec = record_spec(model.hyperparameters, (channel,))
    count = 0
    with atomic_path(output_path) as tmp, open(tmp, "w") as out:
        for records in read_records(input_path, spec, batch_size):
            vectors = _encode_padded(model, channel,
                                     records.padded(spec.keys()), batch_size)
            for vector in vectors:
                out.write(json.dumps(
                    {"embeddings": [float(v) for v in vector]}) + "\n")
            count += len(vectors)
    return count
