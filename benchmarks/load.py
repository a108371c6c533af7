"""Bounded load test of `keras-o2v serve`: valid, malformed and hostile
requests at once, against a server process on 127.0.0.1.

One Object2Vec model (random weights, pooled embeddings) is saved and served
by `keras-o2v serve` in its own process, bound to 127.0.0.1 (the
only address this script ever connects to). `--clients` threads then take
requests from one shared count until `--requests` have been sent or
`--duration` seconds have passed, whichever comes first; every socket has a
timeout, so the run stops by itself. The server is stopped (SIGINT, then
SIGKILL) at exit, whatever happens.

Request mix (a request's kind is drawn at random, seeded):

| kind | share | what | expected |
|---|---|---|---|
| `valid_invocations` | 35% | `/invocations`, 1-64 instances, JSON or JSON Lines, embeddings or pairs | 200 |
| `valid_tfs` | 25% | `/v1/models/object2vec:predict`, row or columnar | 200 |
| `malformed` | 20% | bad JSON, bare list, out-of-vocabulary or negative id, string or float id, empty batch, wrong `Content-Type`, unknown signature or model, GET on a POST route | 4xx JSON |
| `oversized_row` | 5% | one row of 200k ids + 59 one-id rows, either route | 200 (truncated) |
| `half_close` | 10% | `Content-Length: N`, N/2 bytes sent, then the socket is closed | nothing to read |
| `half_wait` | 5% | `Content-Length: N`, N/2 bytes sent, then waits | 408 JSON after `--body-timeout` |

Unexpected failures: any 5xx but a JSON 503 (the server's refusal beyond
`max_connections`, only below `--clients`), a connection error or timeout on a request
that expects an answer, an error status without a JSON `{"error": ...}`
body, a body holding a traceback or a file path, or a status other than the
kind's expected one.

Server memory: VmRSS from `/proc/<pid>/status` before the load (after
start-up and warm-up), sampled every 50 ms during it (peak), and after it;
VmHWM (the peak since the process started, start-up included). The server
log's lines during the load are counted: one short line per event (408,
503, client gone), no tracebacks.

Usage:
    python benchmarks/load.py                    # ~1 min on 2 cores
    python benchmarks/load.py --clients 50 --requests 20000 --duration 120

Prints a table and, last, one JSON line:
`{"benchmark": "load", "config": {...}, "results": {...}}`.
"""

import argparse
import collections
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import orjson  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serving import free_port  # noqa: E402
from serving import log  # noqa: E402
from serving import make_instances  # noqa: E402
from serving import start_server  # noqa: E402

HOST = "127.0.0.1"  # never any other address
SOCKET_TIMEOUT_S = 30
PREDICT = "/v1/models/object2vec:predict"
MIX = {"valid_invocations": 35, "valid_tfs": 25, "malformed": 20,
       "oversized_row": 5, "half_close": 10, "half_wait": 5}


def rss_mb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_load_server(model_dir, port, args, log_file):
    """The server with the limits' defaults but the body timeout and the
    connection limit, logging one line per message."""
    return start_server(model_dir, port, log_file, (
        "--body-timeout", str(args.body_timeout),
        "--max-connections", str(args.max_connections)))


def stop_server(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


class Requests:
    """Pre-encoded request bodies of each kind: (method, path, headers,
    body, expected statuses)."""

    def __init__(self, vocab, seq_len, rng):
        def ids(n):
            return rng.integers(1, vocab, n).tolist()

        json_h = {"Content-Type": "application/json"}
        jsonl_h = {"Content-Type": "application/jsonlines",
                   "Accept": "application/jsonlines"}
        self.valid_invocations, self.valid_tfs = [], []
        for mode in ("embeddings", "scores"):
            for batch in (1, 8, 64):
                instances = make_instances(mode, batch, seq_len, vocab, rng)
                self.valid_invocations.append(
                    ("POST", "/invocations", json_h,
                     orjson.dumps({"instances": instances}), (200,)))
                self.valid_invocations.append(
                    ("POST", "/invocations", jsonl_h, b"".join(
                        orjson.dumps(x) + b"\n" for x in instances), (200,)))
                if mode == "embeddings":
                    rows = [x["in0"] for x in instances]
                    bodies = [{"signature_name": "embed_in0",
                               "instances": rows},
                              {"signature_name": "embed_in0",
                               "inputs": rows}]
                else:
                    bodies = [{"instances": instances}, {"inputs": {
                        f: [x[f] for x in instances] for f in ("in0", "in1")}}]
                self.valid_tfs += [("POST", PREDICT, json_h, orjson.dumps(b),
                                    (200,)) for b in bodies]
        bad = [
            (json_h, b'{"instances": [{"in0": [1,'),
            (json_h, b'[{"in0": [1, 2]}]'),
            (json_h, orjson.dumps({"instances": [{"in0": [vocab]}]})),
            (json_h, orjson.dumps({"instances": [{"in0": [3, -1]}]})),
            (json_h, orjson.dumps({"instances": [{"in0": ["6"]}]})),
            (json_h, orjson.dumps({"instances": [{"in0": [6.5]}]})),
            (json_h, orjson.dumps({"instances": [{"in0": [6], "in1": None}]})),
            (json_h, orjson.dumps({"instances": []})),
            ({"Content-Type": "text/csv"}, b"1,2,3"),
            (jsonl_h, b'{"in0": [6]}\n{"in0": 7}\n'),
        ]
        self.malformed = [("POST", "/invocations", h, b, (400, 415))
                          for h, b in bad]
        self.malformed += [
            ("POST", PREDICT, json_h, orjson.dumps(
                {"signature_name": "nope", "instances": [[6]]}), (400,)),
            ("POST", PREDICT, json_h, orjson.dumps(
                {"inputs": {"in0": [[6], [7]], "in1": [[16]]}}), (400,)),
            ("POST", PREDICT, json_h, orjson.dumps(
                {"signature_name": "embed_in0", "inputs": [[True]]}), (400,)),
            ("POST", "/v1/models/other:predict", json_h,
             orjson.dumps({"instances": [[6]]}), (404,)),
            ("GET", "/invocations", {}, None, (405,)),
        ]
        long_rows = [ids(200_000)] + [ids(1) for _ in range(59)]
        self.oversized_row = [
            ("POST", PREDICT, json_h, orjson.dumps(
                {"signature_name": "embed_in0", "instances": long_rows}),
             (200,)),
            ("POST", "/invocations", json_h, orjson.dumps(
                {"instances": [{"in0": r} for r in long_rows]}), (200,))]
        self.half = self.valid_invocations[:4]

    def draw(self, kind, rnd):
        if kind in ("half_close", "half_wait"):
            return rnd.choice(self.half)
        return rnd.choice(getattr(self, kind))


def bad_body(status, headers, content):
    """Why an answer breaks the contract, or None."""
    text = content.decode("utf-8", "replace")
    if "Traceback" in text or 'File "' in text or "/site-packages/" in text:
        return "traceback or path in body"
    if status >= 400:
        if not (headers.get("content-type") or "").startswith(
                "application/json"):
            return f"non-JSON error body ({headers.get('content-type')})"
        try:
            error = orjson.loads(content)
        except orjson.JSONDecodeError:
            return "unparsable JSON error body"
        if not isinstance(error, dict) or list(error) != ["error"]:
            return "error body is not {\"error\": ...}"
    return None


def http_request(port, method, path, headers, body):
    conn = http.client.HTTPConnection(HOST, port, timeout=SOCKET_TIMEOUT_S)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        return response.status, {k.lower(): v for k, v in
                                 response.getheaders()}, content
    finally:
        conn.close()


def half_request(port, path, headers, body, wait):
    """Sends the headers and half the body; closes, or waits for the
    answer (the server's 408)."""
    sock = socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT_S)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n{head}"
                     f"Content-Length: {len(body)}\r\n\r\n".encode()
                     + body[:len(body) // 2])
        if not wait:
            return None
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    head, _, content = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise ConnectionError("no answer before the connection closed")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, content


def run_load(port, requests, args):
    kinds, weights = zip(*MIX.items())
    lock = threading.Lock()
    state = {"next": 0}
    deadline = time.monotonic() + args.duration
    results = []  # (kind, status or None, latency s, failure or None)

    def worker(seed):
        rnd = random.Random(seed)
        mine = []
        while time.monotonic() < deadline:
            with lock:
                if state["next"] >= args.requests:
                    break
                state["next"] += 1
            kind = rnd.choices(kinds, weights)[0]
            method, path, headers, body, expected = requests.draw(kind, rnd)
            if kind == "half_wait":
                expected = (408,)
            start = time.perf_counter()
            try:
                if kind.startswith("half"):
                    answer = half_request(port, path, headers, body,
                                          kind == "half_wait")
                else:
                    answer = http_request(port, method, path, headers, body)
            except OSError as e:
                mine.append((kind, None, time.perf_counter() - start,
                             f"{type(e).__name__}"))
                continue
            latency = time.perf_counter() - start
            if answer is None:  # half_close: nothing to read
                mine.append((kind, None, latency, None))
                continue
            status, got_headers, content = answer
            failure = bad_body(status, got_headers, content)
            # 503: the server's clean refusal beyond max_connections.
            if status >= 500 and status != 503:
                failure = f"status {status}"
            elif failure is None and status not in expected + (503,):
                failure = f"status {status}, expected {expected}"
            mine.append((kind, status, latency, failure))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(args.seed + i,))
               for i in range(args.clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - start


def percentiles(latencies):
    if not latencies:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    ms = np.asarray(latencies) * 1e3
    return {f"p{q}_ms": float(np.percentile(ms, q)) for q in (50, 95, 99)}


def summarize(results, wall):
    by_kind = {}
    for kind in MIX:
        rows = [r for r in results if r[0] == kind]
        answered = [r for r in rows if r[1] is not None]
        by_kind[kind] = {
            "sent": len(rows),
            "statuses": dict(sorted(collections.Counter(
                str(r[1]) for r in answered).items())),
            **percentiles([r[2] for r in answered]),
            "unexpected": len([r for r in rows if r[3]]),
        }
    answered = [r for r in results if r[1] is not None]
    failures = collections.Counter(f"{r[0]}: {r[3]}" for r in results
                                   if r[3])
    return {
        "requests": len(results), "wall_s": wall,
        "requests_per_s": len(results) / wall,
        "answered": len(answered),
        "statuses": dict(sorted(collections.Counter(
            str(r[1]) for r in answered).items())),
        "status_5xx_not_503": len([r for r in answered
                                   if r[1] >= 500 and r[1] != 503]),
        **percentiles([r[2] for r in answered
                       if r[0] != "half_wait"]),
        "unexpected_failures": sum(failures.values()),
        "failures": dict(failures.most_common(10)),
        "kinds": by_kind,
    }


def log_stats(lines):
    def count(word):
        return len([line for line in lines if word in line])

    return {"lines": len(lines), "traceback_lines": count("Traceback"),
            "408_lines": count("408 for"), "503_lines": count("503 for"),
            "disconnect_lines": count("disconnected before")}


def print_table(results, memory, server_log):
    print(f"{'kind':<19}{'sent':>6}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'unexpected':>11}  statuses")
    for kind, r in results["kinds"].items():
        def cell(value):
            return f"{value:>9.1f}" if value is not None else f"{'-':>9}"

        print(f"{kind:<19}{r['sent']:>6}{cell(r['p50_ms'])}"
              f"{cell(r['p95_ms'])}{cell(r['p99_ms'])}{r['unexpected']:>11}"
              f"  {r['statuses']}")
    print(f"{'all':<19}{results['requests']:>6}"
          f"{results['p50_ms']:>9.1f}{results['p95_ms']:>9.1f}"
          f"{results['p99_ms']:>9.1f}{results['unexpected_failures']:>11}"
          f"  {results['statuses']}")
    print("(latencies: client side, send to last byte; 'all' leaves out "
          "half_wait, which waits for its 408)")
    print(f"{results['requests_per_s']:.0f} req/s over "
          f"{results['wall_s']:.1f} s; 5xx other than 503: "
          f"{results['status_5xx_not_503']}; "
          f"unexpected failures: {results['unexpected_failures']} "
          f"{results['failures'] or ''}")
    print(f"server RSS: {memory['rss_before_mb']:.0f} MB before, "
          f"{memory['rss_peak_mb']:.0f} MB peak during the load, "
          f"{memory['rss_after_mb']:.0f} MB after; VmHWM (since start) "
          f"{memory['vmhwm_mb']:.0f} MB")
    print(f"server log during the load: {server_log['lines']} lines "
          f"({server_log['408_lines']} x 408, {server_log['503_lines']} x "
          f"503, {server_log['disconnect_lines']} x client gone, "
          f"{server_log['traceback_lines']} tracebacks)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32,
                        help="concurrent client threads")
    parser.add_argument("--requests", type=int, default=5000,
                        help="requests in all (the run stops at this count "
                             "or --duration, whichever comes first)")
    parser.add_argument("--duration", type=float, default=90.0,
                        help="seconds at most for the load")
    parser.add_argument("--body-timeout", type=float, default=2.0,
                        help="the server's body_timeout_s (half_wait "
                             "clients wait that long for their 408)")
    parser.add_argument("--max-connections", type=int, default=None,
                        help="the server's max_connections (default: its "
                             "default; below --clients, some get 503s)")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("clients", "requests", "max_connections"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer")
    if not (0 < args.duration <= 3600 and 0 < args.body_timeout <= 60):
        parser.error("--duration must be in (0, 3600] and --body-timeout "
                     "in (0, 60]")

    import keras

    import keras_o2v
    from keras_o2v.serving.app import DEFAULT_MAX_CONNECTIONS
    from keras_o2v.serving.app import DEFAULT_MAX_PADDED_IDS
    from keras_o2v.serving.app import DEFAULT_MAX_PAYLOAD_MB

    if args.max_connections is None:
        args.max_connections = DEFAULT_MAX_CONNECTIONS
    keras.utils.set_random_seed(args.seed)
    hp = {"enc0_network": "pooled_embedding", "enc0_vocab_size": args.vocab,
          "enc0_max_seq_len": args.seq_len, "enc_dim": 64,
          "enc0_token_embedding_dim": 64, "mlp_layers": 1, "mlp_dim": 64,
          "num_classes": 2}
    config = {**vars(args), "hyperparameters": hp, "mix_percent": MIX,
              "server": {"max_payload_mb": DEFAULT_MAX_PAYLOAD_MB,
                         "max_padded_ids": DEFAULT_MAX_PADDED_IDS,
                         "max_connections": args.max_connections,
                         "body_timeout_s": args.body_timeout},
              "cpus": os.cpu_count(),
              "loadavg_1min_start": os.getloadavg()[0]}
    model = keras_o2v.build_object2vec(hp, compile=False)
    workdir = tempfile.mkdtemp(prefix="o2v-load-bench-")
    model.save(os.path.join(workdir, "model.keras"))
    requests = Requests(args.vocab, args.seq_len,
                        np.random.default_rng(args.seed))
    port = free_port()
    log_path = os.path.join(workdir, "server.log")
    log(f"Starting the server on {HOST}:{port} (log: {log_path})")
    with open(log_path, "w") as server_log:
        server = start_load_server(workdir, port, args, server_log)
    # SIGTERM -> the finally below stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for method, path, headers, body, _ in (
                requests.valid_invocations[:2] + requests.valid_tfs[:2]):
            http_request(port, method, path, headers, body)  # first calls
        with open(log_path) as f:
            log_start = len(f.readlines())
        memory = {"rss_before_mb": rss_mb(server.pid)}
        peak = [memory["rss_before_mb"]]
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.05):
                value = rss_mb(server.pid)
                if value:
                    peak.append(value)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        log(f"Load: {args.clients} clients, {args.requests} requests or "
            f"{args.duration:g} s")
        results, wall = run_load(port, requests, args)
        time.sleep(1)  # the server logs the last disconnects
        sampling.set()
        sampler.join()
        memory.update(rss_peak_mb=max(peak), rss_after_mb=rss_mb(server.pid),
                      vmhwm_mb=rss_mb(server.pid, "VmHWM"))
        alive = http_request(port, "GET", "/ping", {}, None)[0] == 200
    finally:
        stop_server(server)
    with open(log_path) as f:
        lines = f.read().splitlines()[log_start:]
    server_stats = {**log_stats(lines), "alive_after": alive,
                    "exit_code": server.returncode}
    summary = summarize(results, wall)
    config["loadavg_1min_end"] = os.getloadavg()[0]
    print(f"{args.clients} clients, {summary['requests']} requests; "
          f"{config['cpus']} CPUs, load average "
          f"{config['loadavg_1min_start']:.1f} -> "
          f"{config['loadavg_1min_end']:.1f}")
    print_table(summary, memory, server_stats)
    print(json.dumps({"benchmark": "load", "config": config, "results": {
        **summary, "server_memory": memory, "server_log": server_stats}}))


if __name__ == "__main__":
    main()
