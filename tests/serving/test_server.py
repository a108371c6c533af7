"""A real server (uvicorn, loopback) and a real HTTP client (http.client)."""

import concurrent.futures
import json

import numpy as np
import orjson
import pytest

import keras_o2v
from tests.serving.helpers import post_json
from tests.serving.helpers import request
from tests.serving.helpers import running_server

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

# Verbatim from OBJECT2VEC.md §3.2 and §3.3.
SCORE_JSON = """{
  "instances" : [
    {"in0": [6, 17, 606, 19, 53, 67, 52, 12, 5, 10, 15, 10178, 7, 33, 652, 80, 15, 69, 821, 4], "in1": [16, 21, 13, 45, 14, 9, 80, 59, 164, 4]},
    {"in0": [22, 1016, 32, 13, 25, 11, 5, 64, 573, 45, 5, 80, 15, 67, 21, 7, 9, 107, 4], "in1": [22, 32, 13, 25, 1016, 573, 3252, 4]},
    {"in0": [774, 14, 21, 206], "in1": [21, 366, 125]}
  ]
}"""
SCORE_JSONLINES = """{"in0": [6, 17, 606, 19, 53, 67, 52, 12, 5, 10, 15, 10178, 7, 33, 652, 80, 15, 69, 821, 4], "in1": [16, 21, 13, 45, 14, 9, 80, 59, 164, 4]}
{"in0": [22, 1016, 32, 13, 25, 11, 5, 64, 573, 45, 5, 80, 15, 67, 21, 7, 9, 107, 4], "in1": [22, 32, 13, 25, 1016, 573, 3252, 4]}
{"in0": [774, 14, 21, 206], "in1": [21, 366, 125]}
"""
EMBED_JSON = """{
  "instances" : [
    {"in0": [6, 17, 606, 19, 53, 67, 52, 12, 5, 10, 15, 10178, 7, 33, 652, 80, 15, 69, 821, 4]},
    {"in0": [22, 1016, 32, 13, 25, 11, 5, 64, 573, 45, 5, 80, 15, 67, 21, 7, 9, 107, 4]},
    {"in0": [774, 14, 21, 206]}
  ]
}"""
EMBED_JSONLINES = "".join(
    json.dumps(x) + "\n" for x in json.loads(EMBED_JSON)["instances"])
JSONL = "application/jsonlines"
PREDICT = "/v1/models/object2vec:predict"


@pytest.fixture(scope="module")
def port(predictor):
    from keras_o2v.serving.app import create_app

    with running_server(create_app(predictor, max_payload_mb=0.05)) as p:
        yield p


def invoke(port, body, content_type="application/json", accept=None):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    return request(port, "POST", "/invocations", body.encode(), headers)


def expected(doc_model, body):
    return keras_o2v.predict(doc_model, json.loads(body)["instances"])


def test_ping(port):
    assert request(port, "GET", "/ping")[0] == 200


@pytest.mark.parametrize("body, key, width", [
    (SCORE_JSON, "scores", 3), (EMBED_JSON, "embeddings", 16)])
def test_json_responses_have_sagemaker_structure(port, doc_model, body, key,
                                                  width):
    status, media, content = invoke(port, body)
    assert (status, media) == (200, "application/json")
    response = orjson.loads(content)
    assert list(response) == ["predictions"]
    assert [list(p) for p in response["predictions"]] == [[key]] * 3
    values = np.array([p[key] for p in response["predictions"]])
    assert values.shape == (3, width)
    np.testing.assert_allclose(values, expected(doc_model, body), atol=1e-5)
    if key == "scores":
        np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("body, key", [
    (SCORE_JSONLINES, "scores"), (EMBED_JSONLINES, "embeddings")])
def test_jsonlines_in_and_out(port, doc_model, body, key):
    status, media, content = invoke(port, body, JSONL, accept=JSONL)
    assert (status, media) == (200, JSONL)
    assert content.endswith(b"\n")
    lines = [orjson.loads(line) for line in content.splitlines()]
    assert [list(line) for line in lines] == [[key]] * 3
    instances = [json.loads(line) for line in body.splitlines()]
    np.testing.assert_allclose([line[key] for line in lines],
                               keras_o2v.predict(doc_model, instances),
                               atol=1e-5)


def test_infer_max_seqlens_and_accept_negotiation(port, doc_model):
    media = "application/json; infer_max_seqlens=2,3"
    status, out_media, content = invoke(
        port, EMBED_JSON, media, accept="application/json;q=0.5, "
                                        "application/jsonlines")
    assert (status, out_media) == (200, JSONL)
    got = [orjson.loads(line)["embeddings"] for line in content.splitlines()]
    heads = [{"in0": x["in0"][:2]} for x in json.loads(EMBED_JSON)["instances"]]
    np.testing.assert_allclose(got, keras_o2v.predict(doc_model, heads),
                               atol=1e-5)
    # Default truncation (20) differs from a head of 2 for these inputs.
    assert not np.allclose(got, expected(doc_model, EMBED_JSON), atol=1e-5)
    assert invoke(port, EMBED_JSON, accept="*/*")[1] == "application/json"


def test_tf_serving_status(port):
    status, _, content = request(port, "GET", "/v1/models/object2vec")
    assert status == 200
    assert orjson.loads(content) == {"model_version_status": [{
        "version": "1", "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]}


def test_tf_serving_row_and_columnar_match_the_saved_model(
        port, doc_model, tmp_path):
    import tensorflow as tf

    path = keras_o2v.export_saved_model(doc_model, str(tmp_path))
    served = tf.saved_model.load(path).signatures
    in0 = [[6, 17, 606, 0], [774, 14, 21, 206]]  # rows padded by the client
    in1 = [[16, 21, 13], [21, 366, 125]]
    # int64, as TF Serving's gRPC clients send them by default.
    scores = served["serving_default"](in0=tf.constant(in0, tf.int64),
                                       in1=tf.constant(in1, tf.int64))["scores"]
    embeddings = served["embed_in1"](in1=tf.constant(in1, tf.int64))[
        "embeddings"]

    status, body = post_json(port, PREDICT, {"instances": [
        {"in0": a, "in1": b} for a, b in zip(in0, in1)]})
    assert status == 200 and list(body) == ["predictions"]
    np.testing.assert_allclose(body["predictions"], scores, atol=1e-5)

    for signature in ("serving_default", "serving_default_int32"):
        status, body = post_json(port, PREDICT, {
            "signature_name": signature, "inputs": {"in0": in0, "in1": in1}})
        assert status == 200 and list(body) == ["outputs"]
        np.testing.assert_allclose(body["outputs"], scores, atol=1e-5)

    for request_body in ({"signature_name": "embed_in1", "instances": in1},
                         {"signature_name": "embed_in1",
                          "instances": [{"in1": x} for x in in1]},
                         {"signature_name": "embed_in1", "inputs": in1},
                         {"signature_name": "embed_in1",
                          "inputs": {"in1": in1}},
                         {"signature_name": "embed_in1_int32",
                          "instances": in1}):
        status, body = post_json(port, PREDICT, request_body)
        assert status == 200, body
        key = "outputs" if "inputs" in request_body else "predictions"
        np.testing.assert_allclose(body[key], embeddings, atol=1e-5)

    # Ragged rows are padded with 0 (= padding) rather than refused.
    status, body = post_json(port, PREDICT, {
        "signature_name": "embed_in1", "instances": [[16, 21], [21]]})
    np.testing.assert_allclose(body["predictions"], served["embed_in1"](
        in1=np.array([[16, 21], [21, 0]]))["embeddings"], atol=1e-5)


GOOD_PAIR = {"in0": [6, 17], "in1": [16]}
BAD_REQUESTS = [
    # (path, content type, body, status, words the error must contain)
    ("/invocations", None, b'{"instances": [{"in0": [1,', 400,
     ["Malformed JSON", '{"instances": [...]}']),
    ("/invocations", None, b'[{"in0": [1, 2]}]', 400,
     ["bare JSON array", '{"instances": <your list>}']),
    ("/invocations", None, b'{"data": []}', 400,
     ["key `instances`", "['data']"]),
    ("/invocations", None, b'{"instances": []}', 400,
     ["`instances` must be a non-empty list"]),
    ("/invocations", None, {"instances": [GOOD_PAIR, {"label": 1}]}, 400,
     ["instance 1, field `in0`: missing"]),
    ("/invocations", None, {"instances": [GOOD_PAIR, {"in0": [6]}]}, 400,
     ["instance 1, field `in1`: mixed modes", "instance 0 has `in0` and "
      "`in1` (pair scores)"]),
    ("/invocations", None, {"instances": [GOOD_PAIR, {
        "in0": [6, 1.5], "in1": [16]}]}, 400,
     ["instance 1, field `in0`: id at position 1 is not an integer: 1.5"]),
    ("/invocations", None, {"instances": [{"in0": ["6"], "in1": [16]}]}, 400,
     ["instance 0, field `in0`: id at position 0 is not an integer: '6'"]),
    ("/invocations", None, {"instances": [{"in0": [True], "in1": [16]}]}, 400,
     ["instance 0, field `in0`: id at position 0 is not an integer: True"]),
    ("/invocations", None, {"instances": [GOOD_PAIR, GOOD_PAIR, {
        "in0": [6], "in1": [16, 4000]}]}, 400,
     ["instance 2, field `in1`: id 4000 at position 1 is >= "
      "vocab_size=4000"]),
    ("/invocations", None, {"instances": [{"in0": [6], "in1": []}]}, 400,
     ["instance 0, field `in1`: empty list"]),
    ("/invocations", None, {"instances": [{"in0": [0, 0]}]}, 400,
     ["instance 0, field `in0`: only padding ids"]),
    ("/invocations", JSONL, b'{"in0": [6]}\n\n{"in0": [6]\n', 400,
     ["line 3: malformed JSON"]),
    ("/invocations", JSONL, b'{"in0": [6]}\n{"in1": [6]}\n', 400,
     ["instance 1 (line 2), field `in0`: mixed modes"]),
    ("/invocations", JSONL, b"\n", 400, ["No instances"]),
    ("/invocations", "application/json; infer_max_seqlens=0,3",
     {"instances": [GOOD_PAIR]}, 400,
     ["`infer_max_seqlens` must be two integers in [1, 5000]",
      "Received: infer_max_seqlens='0,3'"]),
    ("/invocations", "text/csv", b"1,2", 415, ["Content-Type must be"]),
    ("/invocations", None, {"instances": [{"in0": [6] * 30000}]}, 413,
     ["exceeds the limit of 52428 bytes (0.05 MB)"]),
    (PREDICT, None, {"instances": [GOOD_PAIR], "signature_name": "nope"},
     400, ["`signature_name` must be one of", "signature_name='nope'"]),
    (PREDICT, None, {"instances": [{"in0": [6], "in2": [1]}]}, 400,
     ["instance 0, field `in2`: not an input of signature "
      "`serving_default`"]),
    (PREDICT, None, {"instances": [GOOD_PAIR, {"in0": [6]}]}, 400,
     ["instance 1, field `in1`: missing"]),
    (PREDICT, None, {"instances": [GOOD_PAIR, [6]]}, 400,
     ["instance 1: expected an object with the inputs ['in0', 'in1']"]),
    (PREDICT, None, {"inputs": {"in0": [[6], [7]], "in1": [[16]]}}, 400,
     ["same number of rows", "{'in0': 2, 'in1': 1}"]),
    (PREDICT, None, {"inputs": {"in0": [[6]]}}, 400,
     ["`inputs`, field `in1`: missing"]),
    (PREDICT, None, {"signature_name": "embed_in0", "inputs": [[6, 11000]]},
     400, ["instance 0, field `in0`: id 11000 at position 1 is >= "
           "vocab_size=11000"]),
    (PREDICT, None, {"instances": [GOOD_PAIR], "inputs": {}}, 400,
     ["exactly one of `instances` and `inputs`"]),
    ("/v1/models/other:predict", None, {"instances": [GOOD_PAIR]}, 404,
     ["Servable not found for request: Latest(other)"]),
]


@pytest.mark.parametrize("path, content_type, body, status, words",
                         BAD_REQUESTS)
def test_bad_requests_get_json_errors_and_the_server_keeps_serving(
        port, path, content_type, body, status, words):
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
    got, media, content = request(port, "POST", path, body, {
        "Content-Type": content_type or "application/json"})
    assert (got, media) == (status, "application/json"), content
    error = orjson.loads(content)
    assert list(error) == ["error"]
    for word in words:
        assert word in error["error"]
    assert post_json(port, "/invocations", {"instances": [GOOD_PAIR]})[0] == 200


def test_unacceptable_accept_and_unknown_routes(port):
    status, _, content = invoke(port, EMBED_JSON, accept="text/csv")
    assert status == 406 and b"Accept must allow" in content
    assert request(port, "GET", "/nothing")[0] == 404
    assert request(port, "GET", "/invocations")[0] == 405


def test_chunked_body_over_the_limit_is_refused(port):
    def chunks():  # no Content-Length: the limit is checked as it streams
        yield b'{"instances": [{"in0": ['
        for _ in range(5000):
            yield b"6, 6, 6, 6, 6, 6, 6, 6, 6, 6, "
        yield b"6]}]}"

    status, _, content = request(port, "POST", "/invocations", chunks(), {
        "Content-Type": "application/json"})
    assert status == 413 and b"more than 52428 bytes" in content


def test_concurrent_clients_each_get_their_own_answer(port, doc_model):
    instances = [{"in0": [i + 1, 2 * i + 1]} for i in range(24)]
    want = keras_o2v.predict(doc_model, instances)

    def one(i):
        status, body = post_json(port, "/invocations",
                                 {"instances": [instances[i]]})
        return status, body["predictions"][0]["embeddings"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(len(instances))))
    assert [status for status, _ in results] == [200] * len(instances)
    np.testing.assert_allclose([v for _, v in results], want, atol=1e-5)


def test_an_internal_error_is_a_json_500(port, predictor, monkeypatch):
    def broken(batch):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(predictor, "run", broken)
    status, body = post_json(port, "/invocations", {"instances": [GOOD_PAIR]})
    assert (status, body) == (500, {
        "error": "Internal error: RuntimeError: model exploded"})
    monkeypatch.undo()
    assert post_json(port, "/invocations", {"instances": [GOOD_PAIR]})[0] == 200
