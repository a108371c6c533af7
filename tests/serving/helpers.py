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


def partial_request(port, path, body, declared, content_type=
                    "application/json"):
    """A socket that sent headers declaring `declared` body bytes, then
    `body` (fewer bytes): a request in flight, its body half sent."""
    sock = socket.create_connection(("127.0.0.1", port),
                                    timeout=REQUEST_TIMEOUT_S)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Content-Type: {content_type}\r\n"
                 f"Content-Length: {declared}\r\n\r\n".encode() + body)
    return sock


def read_response(sock):
    """(status, headers dict, body bytes) read until the server closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, content = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, content


def rss_bytes(pid="self"):
    """Resident set size of a process, from /proc."""
    import os

    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
