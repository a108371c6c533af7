"""A real server on a free loopback port, and a real HTTP client for it."""

import contextlib
import http.client
import socket
import threading
import time

import orjson

START_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 30


@contextlib.contextmanager
def running_server(app):
    """Serves `app` with uvicorn in a thread; yields the port; always stops."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def request(port, method, path, body=None, headers=None):
    """(status, content type, body bytes) of one request on a new connection."""
    if isinstance(body, (dict, list)):
        body = orjson.dumps(body)
    conn = http.client.HTTPConnection("127.0.0.1", port,
                                      timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return (response.status, response.getheader("content-type"),
                response.read())
    finally:
        conn.close()


def post_json(port, path, body, **headers):
    """(status, parsed JSON response) of a POST."""
    status, _, content = request(port, "POST", path, body, {
        "Content-Type": "application/json", **headers})
    return status, orjson.loads(content)
