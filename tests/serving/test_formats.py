import numpy as np
import orjson
import pytest

from keras_o2v.serving import formats
from keras_o2v.serving.formats import JSON
from keras_o2v.serving.formats import JSONLINES
from keras_o2v.serving.formats import RequestError

SIGNATURES = {"serving_default": ("in0", "in1"), "embed_in0": ("in0",)}


@pytest.mark.parametrize("header, media, lengths", [
    (None, JSON, None),
    ("application/json", JSON, None),
    ("Application/JSON; charset=utf-8", JSON, None),
    ("application/jsonlines", JSONLINES, None),
    ("application/x-jsonlines", JSONLINES, None),
    ("application/json; infer_max_seqlens=20,10", JSON, (20, 10)),
    ("application/jsonlines;infer_max_seqlens=1,5000", JSONLINES, (1, 5000)),
])
def test_content_type(header, media, lengths):
    assert formats.parse_content_type(header) == (media, lengths)


@pytest.mark.parametrize("value", ["20", "0,3", "3,5001", "a,b", "1,2,3"])
def test_bad_infer_max_seqlens(value):
    with pytest.raises(RequestError, match=r"two integers in \[1, 5000\]"):
        formats.parse_content_type(f"application/json; "
                                   f"infer_max_seqlens={value}")


def test_unsupported_content_type_is_415():
    with pytest.raises(RequestError) as info:
        formats.parse_content_type("text/csv")
    assert info.value.status == 415


@pytest.mark.parametrize("header, media", [
    (None, JSON), ("", JSON), ("*/*", JSON), ("application/*", JSON),
    ("application/jsonlines", JSONLINES),
    ("application/json, application/jsonlines", JSON),
    ("application/json;q=0.5, application/jsonlines", JSONLINES),
    ("*/*, application/jsonlines", JSONLINES),
    ("text/html, application/jsonlines;q=0.1", JSONLINES),
    ("application/jsonlines;q=0, */*", JSON),
])
def test_accept_negotiation(header, media):
    assert formats.negotiate_accept(header) == media


def test_unacceptable_accept_is_406():
    with pytest.raises(RequestError) as info:
        formats.negotiate_accept("text/csv, application/json;q=0")
    assert info.value.status == 406


def test_parse_lines_skips_blanks_and_names_the_bad_line():
    lines = [b'{"in0": [1]}\n', b"\n", b'{"in0": [2]}\n']
    assert formats.parse_lines(lines) == ([{"in0": [1]}, {"in0": [2]}],
                                          [0, 2])
    with pytest.raises(RequestError, match="^line 2: malformed JSON"):
        formats.parse_lines([b'{"in0": [1]}', b'{"in0": [1]},{"in0": [2]}'])
    # Lines that only parse joined together are still refused.
    with pytest.raises(RequestError, match="^line 1: malformed JSON"):
        formats.parse_lines([b'{"in0": [1', b"]}"])


def test_parse_invocation_shapes():
    instances, locate = formats.parse_invocation(
        b'{"instances": [{"in0": [1]}]}', JSON)
    assert instances == [{"in0": [1]}] and locate(0) == "instance 0"
    instances, locate = formats.parse_invocation(
        b'\n{"in1": [1]}\n{"in1": [2]}', JSONLINES)
    assert len(instances) == 2 and locate(1) == "instance 1 (line 3)"
    with pytest.raises(RequestError, match="bare JSON array"):
        formats.parse_invocation(b"[[1, 2]]", JSON)
    with pytest.raises(RequestError, match="received a JSON int"):
        formats.parse_invocation(b"3", JSON)


def test_prediction_bytes_match_sagemaker_structure():
    values = np.array([[0.25, 0.75], [1.0, 0.0]], np.float32)
    assert formats.encode_predictions("scores", values, JSON) == (
        b'{"predictions":[{"scores":[0.25,0.75]},{"scores":[1.0,0.0]}]}')
    assert formats.encode_predictions("embeddings", values, JSONLINES) == (
        b'{"embeddings":[0.25,0.75]}\n{"embeddings":[1.0,0.0]}\n')
    assert formats.encode_predictions("scores", values[:0], JSON) == (
        b'{"predictions":[]}')


def test_float32_values_round_trip_exactly():
    values = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)
    body = orjson.loads(formats.encode_predictions("embeddings", values,
                                                   JSON))
    got = np.array([p["embeddings"] for p in body["predictions"]], np.float32)
    np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("body, signature, instances, columnar", [
    ({"instances": [{"in0": [1], "in1": [2]}]}, "serving_default",
     [{"in0": [1], "in1": [2]}], False),
    ({"signature_name": "embed_in0", "instances": [[1, 2], [3]]},
     "embed_in0", [{"in0": [1, 2]}, {"in0": [3]}], False),
    ({"inputs": {"in0": [[1], [2]], "in1": [[3], [4]]}}, "serving_default",
     [{"in0": [1], "in1": [3]}, {"in0": [2], "in1": [4]}], True),
    ({"signature_name": "embed_in0", "inputs": [[5, 6]]}, "embed_in0",
     [{"in0": [5, 6]}], True),
])
def test_tf_serving_requests(body, signature, instances, columnar):
    assert formats.parse_tfs_request(orjson.dumps(body), SIGNATURES) == (
        signature, instances, columnar)


@pytest.mark.parametrize("body, message", [
    ([1], "received a JSON array"),
    ({}, "exactly one of `instances` and `inputs`"),
    ({"instances": []}, "`instances` must be a non-empty list"),
    ({"instances": [[1]]}, "instance 0: expected an object with the inputs"),
    ({"signature_name": "embed_in0", "instances": [{"in1": [1]}]},
     "instance 0, field `in1`: not an input of signature `embed_in0`"),
    ({"signature_name": "embed_in0", "inputs": {"in0": []}},
     "`inputs`, field `in0`: must be a non-empty list"),
    ({"inputs": 3}, "`inputs` must be an object"),
    ({"inputs": {"in0": [[1]], "in1": [[2]], "in9": [[3]]}},
     "`inputs`, field `in9`: not an input of signature `serving_default`"),
])
def test_bad_tf_serving_requests(body, message):
    with pytest.raises(RequestError, match=message.replace("[", r"\[")):
        formats.parse_tfs_request(orjson.dumps(body), SIGNATURES)


def test_tf_serving_responses():
    values = np.array([[0.5]], np.float32)
    assert formats.encode_tfs_response(values, False) == (
        b'{"predictions":[[0.5]]}')
    assert formats.encode_tfs_response(values, True) == b'{"outputs":[[0.5]]}'
