"""Inference instances -> validated, padded id arrays; the mode they ask for.

An instance is a dict like SageMaker's: `{"in0": [6, 17]}` or `{"in1": [16]}`
asks for an embedding by that encoder, `{"in0": [...], "in1": [...]}` for
pair scores. Other keys (`label`, ...) are ignored. Every batch is one mode:
a mix is an error naming the first instance that differs.

Validation reuses the training data rules and messages (`check_record`): ids
are integers in `[0, vocab_size)`, an input is not empty or all padding.
A batch is checked with chunk-wide numpy tests first; only a batch that fails
them is walked instance by instance to name the bad one.

No model calls here: the Python API, the server and batch prediction share
this module and differ only in how they run the model.
"""

import itertools

from keras_o2v.data.jsonl import InputSpec
from keras_o2v.data.jsonl import RecordSpec
from keras_o2v.data.jsonl import records_from_parsed
from keras_o2v.data.jsonl import check_record
from keras_o2v.data.jsonl import field_specs

CHANNELS = ("in0", "in1")
EXAMPLE_INSTANCE = '{"in0": [6, 17, 606], "in1": [16, 21]}'
# SageMaker's documented range for `infer_max_seqlens`.
MAX_INFER_SEQLEN = 5000


def instance_name(index):
    return f"instance {index}"


def record_spec(hp, sides=CHANNELS, max_seqlens=None):
    """The `RecordSpec` of instances holding `sides` of a model's inputs:
    their ids and, for feature-rich objects, their extra fields."""
    specs = input_specs(hp, max_seqlens)
    return RecordSpec({side: specs[side] for side in sides},
                      fields=field_specs(hp, sides))


def input_specs(hp, max_seqlens=None):
    """`{"in0": InputSpec, "in1": InputSpec}` of a model's hyperparameters.

    Args:
        hp: resolved hyperparameters (`model.hyperparameters`).
        max_seqlens: optional `(in0_len, in1_len)`; replaces the truncation
            lengths `enc0_max_seq_len` / `enc1_max_seq_len`.
    """
    lengths = max_seqlens or (hp["enc0_max_seq_len"], hp["enc1_max_seq_len"])
    return {f"in{i}": InputSpec(hp[f"enc{i}_vocab_size"], int(lengths[i]))
            for i in (0, 1)}


def _describe(fields):
    if len(fields) == 2:
        return "`in0` and `in1` (pair scores)"
    return f"only `{fields[0]}` (embeddings)"


def check_instances(instances):
    """Raises unless `instances` is a non-empty list."""
    if not isinstance(instances, list) or not instances:
        shown = (f"{type(instances).__name__}" if not isinstance(
            instances, list) else "[]")
        raise ValueError(
            f"`instances` must be a non-empty list of objects such as "
            f"{EXAMPLE_INSTANCE}. Received: instances={shown}")


def detect_fields(instances, locate=instance_name, expected=None):
    """The input fields every instance holds: `("in0",)`, `("in1",)` or both.

    Args:
        instances: non-empty list of dicts.
        locate: index -> name used in errors (`"instance 3"`).
        expected: optional `(fields, name)` already fixed by earlier
            instances (a file's first line), which these must match.

    Raises:
        ValueError: naming the instance and field, for a non-object, an
            instance without `in0`/`in1`, or a mode that differs.
    """
    check_instances(instances)
    first = expected
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise ValueError(
                f"{locate(index)}: expected a JSON object such as "
                f"{EXAMPLE_INSTANCE}, got {type(instance).__name__} "
                f"{instance!r:.80}.")
        fields = tuple(f for f in CHANNELS if f in instance)
        if not fields:
            raise ValueError(
                f"{locate(index)}, field `in0`: missing. An instance holds "
                f"`in0` or `in1` (embeddings) or both (pair scores), e.g. "
                f"{EXAMPLE_INSTANCE}; its keys are {sorted(instance)}.")
        if first is None:
            first = (fields, locate(index))
        elif fields != first[0]:
            field = next(f for f in CHANNELS
                         if (f in fields) != (f in first[0]))
            raise ValueError(
                f"{locate(index)}, field `{field}`: mixed modes in one batch: "
                f"it has {_describe(fields)} but {first[1]} has "
                f"{_describe(first[0])}. Send embedding and scoring "
                f"instances in separate batches.")
    return first[0]


def _fast_records(instances, spec):
    """`Records` if every instance is valid (checked chunk-wide), else None."""
    try:
        tokens = itertools.chain.from_iterable(
            instance[field] for instance in instances
            for field in (*spec.inputs, *spec.fields))
        # The exact type, so that JSON booleans (numpy would read them as
        # 1 and 0) and floats take the instance-by-instance path.
        if set(map(type, tokens)) != {int}:
            return None
    except (KeyError, TypeError):
        return None
    return records_from_parsed(instances, spec)


def to_arrays(instances, specs, locate=instance_name):
    """Validates `instances` and pads each input field to a dense array.

    Args:
        instances: list of dicts holding every field of `specs`.
        specs: dict field -> `InputSpec` (vocab size, truncation length),
            or a `RecordSpec` (with the extra fields of feature-rich
            objects: see `record_spec`).
        locate: index -> name used in errors.

    Returns:
        dict key -> array `(len(instances), longest)`, padded with
        trailing 0s after truncation: int32 ids, float32 token weights.

    Raises:
        ValueError: naming the first bad instance and field.
    """
    spec = specs if isinstance(specs, RecordSpec) else RecordSpec(
        dict(specs))
    records = _fast_records(instances, spec)
    if records is None:
        for index, instance in enumerate(instances):
            check_record(locate(index), None, instance, spec)
        raise AssertionError(  # the two checks disagree
            f"{len(instances)} instances failed validation but no instance "
            "was found invalid.")
    return records.padded(spec.keys())
