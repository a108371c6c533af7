"""Property tests of the JSON Lines readers against a per-line oracle.

The oracle decodes each line on its own with Python's `json` (strict JSON:
no NaN or Infinity) and checks it with `check_record`. Whatever files the
strategies make -- valid files cut again at random points, random bytes,
random JSON values, records with wrong fields -- `read_records` must accept
exactly the records the oracle accepts, or raise a `ValueError` naming the
file and the first line the oracle rejects; and never hang.
"""

import contextlib
import json
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_o2v.data import InputSpec
from keras_o2v.data import RecordSpec
from keras_o2v.data import read_records
from keras_o2v.data.jsonl import check_record
from keras_o2v.serving import formats

VOCAB = 120  # ids of 1 to 3 digits: a cut can split a number
MAX_LEN = 4
SPECS = {
    "softmax": RecordSpec({"in0": InputSpec(VOCAB, MAX_LEN),
                           "in1": InputSpec(VOCAB, MAX_LEN)}, "softmax", 3),
    "regression": RecordSpec({"in0": InputSpec(VOCAB, MAX_LEN),
                              "in1": InputSpec(VOCAB, MAX_LEN)},
                             "regression"),
}
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(f"{text} overflows a float")
    return value


def strict_loads(line):
    """Python's `json`, minus what JSON does not have (NaN, 1e400)."""
    return json.loads(line.decode("utf-8"), parse_constant=_reject_constant,
                      parse_float=_finite_float)


def oracle(data, spec):
    """`(records, None)` or `(None, number of the first bad line)`."""
    records = []
    for number, line in enumerate(data.split(b"\n")[:-1] if data.endswith(
            b"\n") else data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = strict_loads(line)
            check_record("oracle", number, record, spec)
        except (ValueError, RecursionError):
            return None, number
        records.append(record)
    return records, None


def as_lists(chunks):
    """`Records` chunks -> [(label, in0, in1)] with Python values."""
    out = []
    for chunk in chunks:
        for i in range(len(chunk)):
            out.append((chunk.labels[i].item(),
                        chunk.in0.take([i]).values.tolist(),
                        chunk.in1.take([i]).values.tolist()))
    return out


def expected_lists(records, spec):
    dtype = np.int32 if spec.label == "softmax" else np.float32
    return [(dtype(r["label"]).item(), r["in0"][:MAX_LEN], r["in1"][:MAX_LEN])
            for r in records]


@contextlib.contextmanager
def time_limit(seconds=20):
    """Fails instead of hanging (SIGALRM: the main thread, POSIX)."""

    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_reader(tmp_path, data, spec, chunk_lines):
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    records, bad_line = oracle(data, spec)
    with time_limit():
        if bad_line is None:
            got = as_lists(read_records(str(path), spec, chunk_lines))
            assert got == expected_lists(records, spec)
        else:
            with pytest.raises(ValueError) as info:
                list(read_records(str(path), spec, chunk_lines))
            assert str(info.value).startswith(f"{path}, line {bad_line}")


ids = st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=6).filter(any)
valid_records = st.fixed_dictionaries({
    "label": st.integers(0, 2), "in0": ids, "in1": ids})
json_values = st.recursive(
    # orjson keeps integers exactly within [-2**63, 2**64).
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12)
# Right keys, values of any type: every field check gets exercised.
near_records = st.fixed_dictionaries({
    "label": st.integers(-2, 4) | st.floats(-3, 5) | json_values,
    "in0": ids | st.lists(st.integers(-3, VOCAB + 3), max_size=4)
    | json_values,
    "in1": ids | json_values,
}, optional={"extra": json_values})
lines = st.one_of(
    valid_records.map(json.dumps),
    near_records.map(json.dumps),
    json_values.map(json.dumps),
    st.sampled_from(["", "  ", "\t", "NaN", '{"label": NaN}',
                     '{"label": 1e400, "in0": [1], "in1": [1]}',
                     '{"label": 0, "in0": [1], "in1": [1]} {}',
                     '{"label": 0, "in0": [1], "in1": [1]},']),
).map(str.encode)
raw_lines = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))


@st.composite
def recut_files(draw):
    """Valid records joined by commas, with line breaks put back elsewhere.

    A reader that decodes many lines at once, joined with commas, reads such
    a file as valid whenever it has as many lines as records: a comma turned
    into a line break inside an id list reads as that comma again. Some
    commas become line breaks (often as many as there are record
    separators), breaks are added at random points (inside numbers too) or
    removed.
    """
    records = draw(st.lists(valid_records, min_size=2, max_size=8))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    flat = bytearray(b",".join(json.dumps(r, separators=separators).encode()
                               for r in records))
    commas = [i for i, c in enumerate(flat) if c == ord(",")]
    count = draw(st.sampled_from([len(records) - 1, None]))
    chosen = draw(st.permutations(commas))[:count]
    for i in chosen:
        flat[i] = ord("\n")
    moves = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)),
                          max_size=4))
    for add, where in moves:
        breaks = [i for i, c in enumerate(flat) if c == ord("\n")]
        if add:
            flat[where % (len(flat) + 1):where % (len(flat) + 1)] = b"\n"
        elif breaks:
            del flat[breaks[where % len(breaks)]]
    return bytes(flat) + draw(st.sampled_from([b"", b"\n"]))


@pytest.mark.parametrize("kind", sorted(SPECS))
@SETTINGS
@given(data=recut_files(), chunk_lines=st.sampled_from([1024, 1, 2, 3]))
def test_recut_valid_files(tmp_path, kind, data, chunk_lines):
    check_reader(tmp_path, data, SPECS[kind], chunk_lines)


@SETTINGS
@given(body=st.lists(st.one_of(lines, raw_lines), max_size=10),
       chunk_lines=st.integers(1, 4))
def test_random_lines(tmp_path, body, chunk_lines):
    check_reader(tmp_path, b"\n".join(body) + b"\n", SPECS["softmax"],
                 chunk_lines)


@SETTINGS
@given(data=st.binary(max_size=200), chunk_lines=st.integers(1, 4))
def test_random_bytes(tmp_path, data, chunk_lines):
    check_reader(tmp_path, data, SPECS["regression"], chunk_lines)


def test_issue_reproducer_two_broken_lines_are_refused(tmp_path):
    # Each line is broken; joined with a comma they would read as 2 records.
    data = (b'{"label":0,"in0":[1\n0],"in1":[1]},'
            b'{"label":0,"in0":[1],"in1":[1]}\n')
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"data.jsonl, line 1: malformed "):
        list(read_records(str(path), SPECS["softmax"]))


@SETTINGS
@given(body=st.lists(st.one_of(lines, raw_lines), max_size=8))
def test_serving_parse_lines_decodes_each_line_alone(body):
    """Object i comes from line positions[i], or the first bad line is
    named."""
    expected, bad = [], None
    for k, line in enumerate(body):
        if not line.strip():
            continue
        try:
            expected.append((strict_loads(line), k))
        except (ValueError, RecursionError):
            bad = k
            break
    with time_limit():
        if bad is None:
            objects, positions = formats.parse_lines(body)
            assert objects == [obj for obj, _ in expected]
            assert positions == [k for _, k in expected]
        else:
            with pytest.raises(formats.RequestError,
                               match=f"^line {bad + 1}[:,]"):
                formats.parse_lines(body)
