"""Embeddings and pair scores from a trained model, in SageMaker's formats.

The mode follows SageMaker: an instance with only `in0` (or only `in1`) is
embedded by that encoder; an instance with both is scored.
"""

import json
import os

import numpy as np

from keras_o2v.data import RecordSpec
from keras_o2v.data import read_records
from keras_o2v.data.jsonl import InputSpec
from keras_o2v.data.jsonl import check_record
from keras_o2v.data.records import Ragged

CHANNELS = ("in0", "in1")
DEFAULT_BATCH_SIZE = 1024


def _input_spec(model, channel):
    if channel not in CHANNELS:
        raise ValueError(f"`channel` must be one of {list(CHANNELS)}. "
                         f"Received: channel={channel!r}")
    hp = model.hyperparameters
    i = channel[-1]
    return InputSpec(hp[f"enc{i}_vocab_size"], hp[f"enc{i}_max_seq_len"])


def _encode_padded(model, channel, ids, batch_size):
    encoder = model.get_layer(f"encoder{channel[-1]}")
    out = []
    for start in range(0, len(ids), batch_size):
        out.append(np.asarray(encoder(ids[start:start + batch_size],
                                      training=False)))
    return np.concatenate(out) if out else np.zeros((0, encoder.enc_dim))


def embed(model, instances, channel="in0", batch_size=DEFAULT_BATCH_SIZE):
    """Embeds instances with encoder 0 (`channel="in0"`) or 1 (`"in1"`).

    Args:
        model: a trained `keras_o2v.Object2Vec`.
        instances: list of dicts holding `channel` (`{"in0": [3, 9]}`) or of
            id lists (`[3, 9]`).
        channel: `"in0"` or `"in1"`.
        batch_size: int. Instances per encoder call.

    Returns:
        float32 array `(len(instances), enc_dim)`.
    """
    spec = RecordSpec({channel: _input_spec(model, channel)})
    lists = []
    for index, instance in enumerate(instances):
        record = instance if isinstance(instance, dict) else {
            channel: instance}
        check_record(f"instance {index}", None, record, spec)
        lists.append(record[channel])
    lengths = np.array([len(x) for x in lists], np.int64)
    values = np.array([t for x in lists for t in x], np.int32)
    ragged = Ragged(values, lengths).truncate(spec.inputs[channel].max_seq_len)
    return _encode_padded(model, channel, ragged.to_padded(), batch_size)


def embed_file(model, input_path, output_path, channel="in0",
               batch_size=DEFAULT_BATCH_SIZE):
    """Embeds a JSON Lines file into `{"embeddings": [...]}` lines.

    The output is written to a temporary file and renamed when complete.

    Returns:
        int, the number of embeddings written.
    """
    spec = RecordSpec({channel: _input_spec(model, channel)})
    tmp = f"{output_path}.tmp"
    count = 0
    try:
        with open(tmp, "w") as out:
            for records in read_records(input_path, spec, batch_size):
                ragged = records.in0 if channel == "in0" else records.in1
                vectors = _encode_padded(model, channel, ragged.to_padded(),
                                         batch_size)
                for vector in vectors:
                    out.write(json.dumps(
                        {"embeddings": [float(v) for v in vector]}) + "\n")
                count += len(vectors)
        os.replace(tmp, output_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return count
