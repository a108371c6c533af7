"""`keras-o2v serve` end to end: a server process, started and stopped."""

import os
import signal
import socket
import subprocess
import sys
import time

import orjson
import pytest

from tests.serving.helpers import post_json
from tests.serving.helpers import request

pytest.importorskip("uvicorn")
START_TIMEOUT_S = 120  # a fresh process imports TensorFlow


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command(doc_model, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    doc_model.save(str(model_dir / "model.keras"))
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "INFERENCE_PREFERRED_MODE": "embedding",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "keras_o2v.cli", "serve", "--model-dir",
             str(model_dir), "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if request(port, "GET", "/ping")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        status, body = post_json(port, "/invocations", {"instances": [
            {"in0": [774, 14, 21, 206], "in1": [21, 366, 125]}]})
        assert status == 200 and len(body["predictions"][0]["scores"]) == 3
        status, _, content = request(port, "GET", "/v1/models/object2vec")
        assert orjson.loads(content)["model_version_status"][0]["state"] == (
            "AVAILABLE")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    log = log_path.read_text()
    assert "127.0.0.1" in log
    warmed = [line.split()[-1] for line in log.splitlines()
              if line.startswith("Warmed up signature")]
    assert warmed == ["embed_in0.", "embed_in1.", "serving_default."]


def test_serve_flag_defaults_are_the_library_defaults():
    from keras_o2v.cli import build_parser
    from keras_o2v.serving import app

    args = build_parser().parse_args(["serve", "--model-dir", "m"])
    assert (args.max_payload_mb, args.max_padded_ids, args.body_timeout,
            args.max_connections) == (
        app.DEFAULT_MAX_PAYLOAD_MB, app.DEFAULT_MAX_PADDED_IDS,
        app.DEFAULT_BODY_TIMEOUT_S, app.DEFAULT_MAX_CONNECTIONS)
