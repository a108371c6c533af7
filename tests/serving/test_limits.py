"""The server's limits: truncation and padded size, body timeout, requests
in flight, clients that leave mid-body; and memory after large requests."""

import contextlib
import gc
import logging
import threading
import time

import numpy as np
import orjson
import pytest

import keras_o2v
from tests.serving.helpers import partial_request
from tests.serving.helpers import post_json
from tests.serving.helpers import read_response
from tests.serving.helpers import request
from tests.serving.helpers import rss_bytes
from tests.serving.helpers import running_server

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

PREDICT = "/v1/models/object2vec:predict"
# One long row among short ones: before truncation on the TF Serving route,
# it padded all 60 rows to 200k ids (+1.7 GB RSS in a real server).
LONG_ROW = [i % 10_000 + 1 for i in range(200_000)]
LONG_BATCH = [LONG_ROW] + [[8]] * 59


def create_app(predictor, **kwargs):
    from keras_o2v.serving.app import create_app

    return create_app(predictor, **kwargs)


@pytest.fixture
def server_log(caplog):
    with caplog.at_level(logging.INFO):
        yield caplog


@contextlib.contextmanager
def uvicorn_logs(caplog):
    """Lets caplog see uvicorn's loggers, which do not propagate. Enter it
    once the server runs: uvicorn's logging config drops other handlers."""
    uvicorn_logger = logging.getLogger("uvicorn")
    uvicorn_logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        uvicorn_logger.removeHandler(caplog.handler)


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_both_routes_truncate_to_the_encoder_max_seq_len(predictor,
                                                         doc_model):
    with running_server(create_app(predictor)) as port:
        status, body = post_json(port, PREDICT, {
            "signature_name": "embed_in0", "instances": LONG_BATCH})
        assert status == 200, body
        heads = [{"in0": row[:20]} for row in LONG_BATCH[:2]]  # max_seq_len
        want = keras_o2v.predict(doc_model, heads)
        np.testing.assert_allclose(body["predictions"][:2], want, atol=1e-5)
        status, body = post_json(port, "/invocations", {"instances": [
            {"in0": row} for row in LONG_BATCH]})
        assert status == 200, body
        np.testing.assert_allclose(
            [p["embeddings"] for p in body["predictions"][:2]], want,
            atol=1e-5)


def test_padded_size_over_the_limit_is_a_413_on_both_routes(predictor):
    pair = {"in0": [6] * 30, "in1": [16] * 3}  # pads to 20 + 3 per row
    with running_server(create_app(predictor, max_padded_ids=230)) as port:
        # 10 rows x (20 + 3) = 230: at the limit; 11 rows are over it.
        for n, status in ((10, 200), (11, 413)):
            for path, body in (
                    (PREDICT, {"instances": [pair] * n}),
                    (PREDICT, {"inputs": {"in0": [pair["in0"]] * n,
                                          "in1": [pair["in1"]] * n}}),
                    ("/invocations", {"instances": [pair] * n})):
                got, error = post_json(port, path, body)
                assert got == status, (path, error)
        assert list(error) == ["error"]
        assert error["error"] == (
            "The request pads to 253 ids (in0: 11 rows x 20 + in1: 11 rows x "
            "3, after truncation), over the limit of max_padded_ids=230: "
            "split the instances into several requests (rows of similar "
            "lengths pad least), or start the server with a larger "
            "--max-padded-ids.")
        # infer_max_seqlens sets the width that counts.
        got, _ = post_json(port, "/invocations", {"instances": [pair] * 11},
                           **{"Content-Type": "application/json; "
                                              "infer_max_seqlens=10,3"})
        assert got == 200


@pytest.mark.parametrize("name, bad", [
    ("max_payload_mb", 0), ("max_padded_ids", 0), ("max_padded_ids", 1.5),
    ("max_padded_ids", True), ("body_timeout_s", -1),
    ("body_timeout_s", "30"), ("max_connections", 0),
    ("max_connections", 8.0)])
def test_limits_are_validated(predictor, name, bad):
    kind = "integer" if name in ("max_padded_ids", "max_connections") else (
        "number")
    with pytest.raises(ValueError, match=(
            rf"^`{name}` must be a positive {kind}. "
            rf"Received: {name}={bad!r}$")):
        create_app(predictor, **{name: bad})


def test_slow_body_gets_a_408_and_the_connection_is_closed(predictor,
                                                           server_log):
    with running_server(create_app(predictor, body_timeout_s=0.3)) as port, \
            uvicorn_logs(server_log):
        start = time.monotonic()
        with partial_request(port, "/invocations", b'{"instances": [',
                             100) as sock:
            status, headers, content = read_response(sock)
        assert 0.3 <= time.monotonic() - start < 5
        assert (status, headers["content-type"]) == (408, "application/json")
        assert headers["connection"] == "close"
        assert orjson.loads(content) == {"error": (
            "The request body was not received within 0.3 seconds "
            "(body_timeout_s; 15 bytes received): send the whole body at "
            "once, or split the instances into smaller requests.")}
        assert post_json(port, "/invocations", {"instances": [
            {"in0": [6]}]})[0] == 200
    lines = [r.getMessage() for r in server_log.records]
    assert len(lines) == 1 and lines[0].startswith("408 for 127.0.0.1:")
    assert lines[0].endswith("body not received within 0.3s (15 of 100 "
                             "bytes).")


def test_requests_beyond_max_connections_get_a_json_503(predictor,
                                                        server_log):
    with running_server(create_app(predictor, max_connections=2)) as port, \
            uvicorn_logs(server_log):
        held = [partial_request(port, PREDICT, b'{"inst', 50)
                for _ in range(2)]
        try:
            # The held requests are in flight once uvicorn parsed them.
            def refused():
                return post_json(port, "/invocations", {
                    "instances": [{"in0": [6]}]})[0] == 503

            wait_for(refused)
            assert request(port, "GET", "/ping")[0] == 200  # not limited
            status, body = post_json(port, PREDICT, {"instances": [[6]]})
            assert status == 503
            assert body == {"error": (
                "Server busy: 2 requests in flight, the limit "
                "(max_connections=2). Retry later, or start the server with "
                "a larger --max-connections.")}
        finally:
            for sock in held:
                sock.close()
        wait_for(lambda: post_json(port, "/invocations", {
            "instances": [{"in0": [6]}]})[0] == 200)
    busy = [r for r in server_log.records if r.getMessage().startswith(
        "503 for 127.0.0.1:")]
    assert len(busy) >= 2
    assert busy[-1].getMessage().endswith(
        ": 2 requests in flight (max_connections=2).")


def test_a_client_leaving_mid_body_is_one_log_line(predictor, server_log):
    with running_server(create_app(predictor)) as port, \
            uvicorn_logs(server_log):
        for _ in range(3):
            partial_request(port, "/invocations", b'{"instances": [{"in0"',
                            1000).close()
        wait_for(lambda: len(server_log.records) >= 3)
        assert post_json(port, "/invocations", {"instances": [
            {"in0": [6]}]})[0] == 200
    lines = [r.getMessage() for r in server_log.records]
    assert len(lines) == 3, lines
    for line, record in zip(lines, server_log.records):
        assert record.exc_info is None and record.levelno == logging.INFO
        assert line.startswith("127.0.0.1:") and line.endswith(
            " disconnected before sending its body (21 of 1000 bytes).")
    assert "Traceback" not in server_log.text


class PeakRss:
    """Samples this process's RSS every 5 ms while in use."""

    def __enter__(self):
        self.before = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        gc.collect()
        self.after = rss_bytes()


def test_memory_stays_bounded_during_and_after_large_requests(predictor):
    with running_server(create_app(predictor)) as port:
        bodies = [(PREDICT, {"signature_name": "embed_in0",
                             "instances": LONG_BATCH}),
                  (PREDICT, {"inputs": {"in0": LONG_BATCH,
                                        "in1": [[16]] * 60}}),
                  ("/invocations", {"instances": [
                      {"in0": row} for row in LONG_BATCH]})]
        bodies = [(path, orjson.dumps(body)) for path, body in bodies]
        small = {"signature_name": "embed_in0", "instances": [[6]]}
        assert post_json(port, PREDICT, small)[0] == 200  # thread pool
        gc.collect()
        with PeakRss() as rss:
            for _ in range(3):
                for path, body in bodies:
                    assert post_json(port, path, body)[0] == 200
    # Padded to 60 x 200k ids (the pooled encoder's (60, 200000, 16)
    # float32 embeddings alone are 768 MB), RSS went up by ~0.9 GB and
    # stayed there.
    mb = {k: getattr(rss, k) / 2**20 for k in ("before", "peak", "after")}
    # Now ~20 MB more during and after (parsed JSON, allocator caches).
    assert mb["peak"] - mb["before"] < 200, mb
    assert mb["after"] - mb["before"] < 64, mb
