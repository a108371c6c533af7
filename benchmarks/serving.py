"""Serving latency and throughput: the REST server vs direct signature calls.

One Object2Vec model (random weights, `--encoder` for both encoders) is saved
and exported; then, for each mode (`embeddings`: `{"in0": ...}` instances,
`scores`: pairs), batch size (`--batches`) and client count (`1` and
`--clients`), two things are timed for `--duration` seconds each:

* **server**: `keras-o2v serve` in its own process on 127.0.0.1; each client
  is a thread with one keep-alive `http.client` connection, posting the same
  pre-encoded `application/json` body to `/invocations` and reading the
  whole response, back to back. The server decodes, validates, truncates,
  pads, makes one model call and encodes the response for every request.
* **pipeline**: the server's per-request work without HTTP, in this process
  and the same number of threads: `formats.parse_invocation` ->
  `Predictor.prepare` -> `Predictor.run` -> `formats.encode_predictions`
  (JSON bytes in, JSON bytes out). server vs pipeline is the cost of HTTP;
  pipeline vs direct the cost of JSON decoding, validation and encoding.
* **direct**: the same number of threads calling the exported SavedModel's
  signature (`tf.saved_model.load(...).signatures["embed_in0"]` or
  `["serving_default"]`) on the same instances, already padded, as int32
  tensors: the floor that a server of this model cannot beat.

Latency is per request (client side, send to last byte read); throughput is
instances/s = requests x batch / wall time. `ratio` = server / direct, for
throughput (goal >= 0.8 at batch 1024) and p50 latency. Goal: server p50 at
batch 1, one client, <= 5 ms for pooled embeddings on CPU.

Instances: random ids in `[1, vocab)`, lengths uniform in `[1, seq-len]`.

Usage:
    python benchmarks/serving.py                     # ~2.5 min on 2 cores
    python benchmarks/serving.py --encoder hcnn --clients 8 --duration 5

Prints a table and, last, one JSON line:
`{"benchmark": "serving", "config": {...}, "results": [...], "goals": {...}}`.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import orjson  # noqa: E402

START_TIMEOUT_S = 180
MODES = ("embeddings", "scores")


def log(message):
    print(message, file=sys.stderr, flush=True)


def make_instances(mode, batch, seq_len, vocab, rng):
    def ids():
        return rng.integers(1, vocab, rng.integers(1, seq_len + 1)).tolist()

    if mode == "embeddings":
        return [{"in0": ids()} for _ in range(batch)]
    return [{"in0": ids(), "in1": ids()} for _ in range(batch)]


def run_threads(clients, duration, make_call):
    """Runs `make_call()`'s callable back to back in `clients` threads.

    Returns (latencies in s, calls, wall s) of the timed window; each thread
    makes two untimed calls first.
    """
    latencies, lock = [], threading.Lock()
    ready = threading.Barrier(clients + 1)
    window = {}

    def worker():
        call = make_call()
        call()
        call()
        ready.wait()
        mine = []
        while time.perf_counter() < window["stop"]:
            start = time.perf_counter()
            call()
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    window["stop"] = float("inf")
    ready.wait()
    start = time.perf_counter()
    window["stop"] = start + duration
    for thread in threads:
        thread.join()
    return latencies, len(latencies), time.perf_counter() - start


def summarize(latencies, calls, wall, batch):
    ms = np.asarray(latencies) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
            "requests": calls, "instances_per_s": calls * batch / wall}


def server_client(port, body):
    def make_call():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Content-Type": "application/json",
                   "Accept": "application/json"}

        def call():
            conn.request("POST", "/invocations", body, headers)
            response = conn.getresponse()
            content = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {content[:300]!r}")

        return call

    return make_call


def direct_client(signature, tensors):
    def make_call():
        def call():
            outputs = signature(**tensors)
            next(iter(outputs.values())).numpy()

        return call

    return make_call


def pipeline_client(predictor, body):
    from keras_o2v.serving import formats

    def make_call():
        def call():
            instances, locate = formats.parse_invocation(body, formats.JSON)
            batch = predictor.prepare(instances, locate=locate)
            formats.encode_predictions(batch.output, predictor.run(batch),
                                       formats.JSON)

        return call

    return make_call


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir, port, log_file,
                 options=("--max-payload-mb", "64")):
    """`keras-o2v serve` on 127.0.0.1:`port`, once `/ping` answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_o2v.cli", "serve", "--model-dir",
         model_dir, "--port", str(port), *options],
        stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def print_table(rows):
    kinds = ("server", "pipeline", "direct")
    header = f"{'mode':<11}{'batch':>6}{'clients':>8}" + "".join(
        f" | {kind + ' p50':>13}{'p99':>9}{'inst/s':>9}" for kind in kinds) + (
        f" | {'server/direct inst/s':>20}{'p50':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        cells = "".join(
            f" | {r[kind]['p50_ms']:>11.2f}ms{r[kind]['p99_ms']:>7.1f}ms"
            f"{r[kind]['instances_per_s']:>9.0f}" for kind in kinds)
        print(f"{r['mode']:<11}{r['batch']:>6}{r['clients']:>8}{cells} | "
              f"{r['throughput_ratio']:>20.2f}{r['p50_ratio']:>6.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default="pooled_embedding",
                        choices=("pooled_embedding", "hcnn", "bilstm"))
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--enc-dim", type=int, default=64)
    parser.add_argument("--token-dim", type=int, default=64)
    parser.add_argument("--batches", default="1,64,1024")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--clients", type=int, default=4,
                        help="concurrent clients (each config also runs 1)")
    parser.add_argument("--duration", type=float, default=3.0,
                        help="seconds timed per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    import keras_o2v
    from keras_o2v.serving.predictor import Predictor

    keras.utils.set_random_seed(args.seed)
    hp = {"enc0_network": args.encoder, "enc0_vocab_size": args.vocab,
          "enc0_max_seq_len": args.seq_len, "enc_dim": args.enc_dim,
          "enc0_token_embedding_dim": args.token_dim, "mlp_layers": 1,
          "mlp_dim": args.enc_dim, "num_classes": 2}
    # The machine's load: figures from a busy, shared machine are noise.
    config = {**vars(args), "hyperparameters": hp, "cpus": os.cpu_count(),
              "loadavg_1min_start": os.getloadavg()[0]}
    model = keras_o2v.build_object2vec(hp, compile=False)
    workdir = tempfile.mkdtemp(prefix="o2v-serving-bench-")
    model.save(os.path.join(workdir, "model.keras"))
    signatures = tf.saved_model.load(keras_o2v.export_saved_model(
        model, os.path.join(workdir, "export"))).signatures
    predictor = Predictor(model)
    predictor.warm_up()
    port = free_port()
    log(f"Starting the server on port {port} (log: {workdir}/server.log)")
    with open(os.path.join(workdir, "server.log"), "w") as server_log:
        server = start_server(workdir, port, server_log)
    rng = np.random.default_rng(args.seed)
    rows = []
    try:
        for mode in args.modes.split(","):
            name = "embed_in0" if mode == "embeddings" else "serving_default"
            fields = ("in0",) if mode == "embeddings" else ("in0", "in1")
            for batch in map(int, args.batches.split(",")):
                instances = make_instances(mode, batch, args.seq_len,
                                           args.vocab, rng)
                body = orjson.dumps({"instances": instances})
                tensors = {f: tf.constant(keras.utils.pad_sequences(
                    [x[f] for x in instances], padding="post"))
                    for f in fields}
                for clients in sorted({1, args.clients}):
                    log(f"{mode} batch={batch} clients={clients}")
                    server_stats = summarize(*run_threads(
                        clients, args.duration, server_client(port, body)),
                        batch)
                    pipeline_stats = summarize(*run_threads(
                        clients, args.duration,
                        pipeline_client(predictor, body)), batch)
                    direct_stats = summarize(*run_threads(
                        clients, args.duration,
                        direct_client(signatures[name], tensors)), batch)
                    rows.append({
                        "mode": mode, "batch": batch, "clients": clients,
                        "body_bytes": len(body), "server": server_stats,
                        "pipeline": pipeline_stats, "direct": direct_stats,
                        "throughput_ratio": server_stats["instances_per_s"]
                        / direct_stats["instances_per_s"],
                        "p50_ratio": server_stats["p50_ms"]
                        / direct_stats["p50_ms"]})
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    def find(mode, batch, clients):
        return next((r for r in rows if (r["mode"], r["batch"],
                                         r["clients"]) == (mode, batch,
                                                           clients)), None)

    config["loadavg_1min_end"] = os.getloadavg()[0]
    latency = find("embeddings", 1, 1)
    ratios = {f"{r['mode']} clients={r['clients']}": r["throughput_ratio"]
              for r in rows if r["batch"] == 1024}
    goals = {
        "p50_ms_embeddings_batch1": latency and latency["server"]["p50_ms"],
        "p50_goal_ms": 5.0,
        "throughput_ratio_batch1024": ratios,
        "throughput_ratio_goal": 0.8,
        "median_ratio_batch1024": statistics.median(ratios.values())
        if ratios else None,
    }
    if not args.json_only:
        print(f"encoder={args.encoder} seq_len<={args.seq_len} "
              f"vocab={args.vocab} enc_dim={args.enc_dim}; latency per "
              f"request, throughput in instances/s; {config['cpus']} CPUs, "
              f"load average {config['loadavg_1min_start']:.1f} -> "
              f"{config['loadavg_1min_end']:.1f}")
        print_table(rows)
        print(f"goal: server p50 at batch 1 (embeddings, 1 client) <= 5 ms: "
              f"{goals['p50_ms_embeddings_batch1']:.2f} ms")
        print("goal: server/direct throughput at batch 1024 >= 0.8: "
              + ", ".join(f"{k}: {v:.2f}" for k, v in ratios.items()))
    print(json.dumps({"benchmark": "serving", "config": config,
                      "results": rows, "goals": goals}))


if __name__ == "__main__":
    main()
