"""`keras-o2v` command line: train, evaluate, embed, export, serve, predict,
demo-data, index, evaluate-retrieval, visualize.

The only place that turns errors into exit codes: a `ValueError` (bad data,
bad hyperparameter) prints one `error: ...` line and exits with status 2.

TensorFlow's C++ log lines are hidden unless `--backend-logs` is given or a
TF_CPP_* variable is set; `--help` imports neither Keras nor TensorFlow.
"""

import argparse
import contextlib
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np

from keras_o2v.visualization import METHODS
from keras_o2v.visualization import METHOD_NAMES


# A TensorFlow C++ log line below FATAL (absl's format: severity, date, time
# (seconds since the epoch before absl is initialised), thread, file:line),
# or absl's notice that precedes such lines.
_BACKEND_LOG_LINE = re.compile(
    rb"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\s:\]]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called "
    rb"are written to STDERR")


# Copies the lines of stdin that do not match argv[1] to stdout.
_LINE_FILTER = """
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent
pattern = re.compile(sys.argv[1].encode("latin-1"))
for line in sys.stdin.buffer:
    if not pattern.match(line):
        sys.stdout.buffer.write(line)
"""


@contextlib.contextmanager
def _dropping_lines(pattern):
    """Drops the lines matching `pattern` that anything, C++ code included,
    writes to file descriptor 2 inside the block; other lines pass, in order.

    A small Python process does the filtering, so the last words of a
    process that dies inside the block still come out. Off POSIX, nothing
    is dropped.
    """
    if os.name != "posix" or not sys.executable:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        # -I -S: no environment, no site; -u: each line out at once.
        filtering = subprocess.Popen(
            [sys.executable, "-I", "-S", "-u", "-c", _LINE_FILTER,
             pattern.pattern.decode("latin-1")],
            stdin=subprocess.PIPE, stdout=saved, stderr=saved)
    except OSError:
        os.close(saved)
        yield
        return
    os.dup2(filtering.stdin.fileno(), 2)
    filtering.stdin.close()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the last write end: the filter ends
        os.close(saved)
        filtering.wait()  # its lines come before whatever follows


def _quiet_backend_logs():
    """Keeps TensorFlow's C++ log lines off stderr.

    Sets TF_CPP_MIN_LOG_LEVEL=3 (FATAL only; errors reach Python as
    exceptions) and imports TensorFlow, dropping the log lines written while
    its libraries load: those come before TensorFlow reads the variable
    (oneDNN and CUDA notes, absl's InitializeLog notice). Does nothing if
    the user set a TF_CPP_* variable or TensorFlow is already imported.
    """
    if "tensorflow" in sys.modules or any(name.startswith("TF_CPP_")
                                          for name in os.environ):
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _dropping_lines(_BACKEND_LOG_LINE):
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass  # the command says what is missing


def _parse_set(items):
    overrides = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"`--set` must look like name=value. "
                             f"Received: --set {item!r}")
        overrides[name.strip()] = value
    return overrides


def _read_hyperparameters(path):
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            hp = json.load(f)
    except (OSError, ValueError) as e:  # UnicodeDecodeError: a binary file
        raise ValueError(f"Cannot read hyperparameters from {path!r}: {e}. "
                         "It must be a UTF-8 JSON object, e.g. "
                         "{\"enc_dim\": \"64\"}.") from None
    if not isinstance(hp, dict):
        raise ValueError(f"{path!r} must hold a JSON object of "
                         "hyperparameters, e.g. {\"enc_dim\": \"64\"}.")
    return hp


def _cmd_train(args):
    from keras_o2v.training import train

    hp = {**_read_hyperparameters(args.hyperparameters),
          **_parse_set(args.set)}
    result = train(args.train, hp, validation=args.validation,
                   test=args.test, auxiliary=args.auxiliary,
                   model_dir=args.model_dir, seed=args.seed,
                   validate_data=not args.no_validate_data,
                   verbose="auto" if args.verbose is None else args.verbose,
                   early_stopping=not args.no_early_stopping,
                   distribution=args.distribution,
                   per_replica_batch=not args.global_batch,
                   mixed_precision=args.mixed_precision,
                   objective=args.objective,
                   retrieval=_retrieval_options(args))
    print(json.dumps(result.metrics, indent=2, sort_keys=True))


def _retrieval_options(args):
    """`train(retrieval=...)` from the retrieval flags (None if unused)."""
    given = {"similarity": args.similarity, "temperature": args.temperature,
             "logq_correction": args.logq_correction or None,
             "train_metrics": args.train_metrics or None}
    given = {k: v for k, v in given.items() if v is not None}
    if args.objective != "retrieval":
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(f"{flags} need --objective retrieval.")
        return None
    return given


def _cmd_evaluate(args):
    from keras_o2v.training import evaluate
    from keras_o2v.training import load_model

    model = load_model(args.model_dir)
    results = evaluate(model, args.data, batch_size=args.batch_size)
    print(json.dumps({f"{args.split}:{k}": v for k, v in results.items()},
                     indent=2, sort_keys=True))


def _cmd_embed(args):
    from keras_o2v.inference import embed_file
    from keras_o2v.training import load_model

    model = load_model(args.model_dir)
    count = embed_file(model, args.input, args.output, channel=args.channel,
                       batch_size=args.batch_size)
    print(f"Wrote {count} embeddings of dimension "
          f"{model.hyperparameters['enc_dim']} to {args.output}")


def _cmd_export(args):
    from keras_o2v.export import SIGNATURES
    from keras_o2v.export import export_saved_model
    from keras_o2v.training import load_model

    path = export_saved_model(load_model(args.model_dir), args.export_dir,
                              name=args.name, version=args.version)
    print(f"Wrote SavedModel (signatures {', '.join(SIGNATURES)}) to {path}")


def _cmd_serve(args):
    import os

    try:
        from keras_o2v.serving.app import serve
    except ImportError as e:
        raise ValueError(f"The server needs the `serve` extra: pip install "
                         f"'keras-o2v[serve]' ({e}).") from None
    from keras_o2v.serving.predictor import Predictor
    from keras_o2v.training import load_model

    predictor = Predictor(load_model(args.model_dir))
    predictor.warm_up(os.environ.get("INFERENCE_PREFERRED_MODE",
                                     "classification"))
    print(f"Serving {args.model_name!r} on http://{args.host}:{args.port}: "
          f"SageMaker /ping and /invocations; TF Serving "
          f"/v1/models/{args.model_name}[:predict]", flush=True)
    serve(predictor, host=args.host, port=args.port,
          model_name=args.model_name, max_payload_mb=args.max_payload_mb,
          max_padded_ids=args.max_padded_ids,
          body_timeout_s=args.body_timeout,
          max_connections=args.max_connections)


def _cmd_predict(args):
    from keras_o2v.batch_predict import predict_file
    from keras_o2v.training import load_model

    count = predict_file(load_model(args.model_dir), args.input, args.output,
                         accept=args.accept, chunk_lines=args.chunk_lines)
    print(f"Wrote {count} predictions to {args.output}")


def _cmd_prepare(args):
    from keras_o2v.data.prepare import parse_label_map
    from keras_o2v.data.prepare import prepare

    summary = prepare(
        args.train, args.out_dir, args.text0, args.text1, label=args.label,
        validation=args.validation, test=args.test,
        label_map=parse_label_map(args.label_map) if args.label_map else None,
        min_frequency=args.min_frequency, max_vocab_size=args.max_vocab_size,
        embeddings=args.embeddings, delimiter=args.delimiter,
        extend_with_embeddings=args.extend_with_embeddings)
    print(json.dumps(summary, indent=2))


def _cmd_convert(args):
    from keras_o2v.data.prepared import convert
    from keras_o2v.data.prepared import spec_for_conversion

    hp = {**_read_hyperparameters(args.hyperparameters),
          **_parse_set(args.set)}
    manifest = convert(args.input, args.output, spec_for_conversion(hp),
                       workers=args.workers,
                       records_per_shard=args.records_per_shard)
    print(json.dumps({"output": args.output, "records": manifest["records"],
                      "shards": len(manifest["shards"]),
                      "max_id": manifest["max_id"],
                      "max_len": manifest["max_len"]}, indent=2))


def _cmd_demo_data(args):
    from keras_o2v.data.synthetic import write_demo_data

    paths = write_demo_data(args.out_dir, num_train=args.num_train,
                            seed=args.seed)
    for name, path in paths.items():
        print(f"{name}: {path}")


def _parse_ranges(items):
    """`--range NAME=LOW:HIGH`, `NAME=A,B,C` or `NAME=A|B` -> ranges dict."""
    ranges = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(
                "`--range` must look like name=low:high or name=a,b,c (or "
                f"name=a|b when a choice holds commas). Received: --range "
                f"{item!r}")
        if "|" in value:
            spec = [v.strip() for v in value.split("|")]
        elif ":" in value:
            spec = tuple(v.strip() for v in value.split(":"))
        else:
            spec = [v.strip() for v in value.split(",")]
        ranges[name.strip()] = spec
    return ranges


def _load_any_model(model_dir):
    # Registers RetrievalModel before `.keras` loading.
    import keras_o2v.retrieval  # noqa: F401
    from keras_o2v.training import load_model

    return load_model(model_dir)


def _print_jsonl(rows, output):
    from keras_o2v.atomic import atomic_path

    lines = [json.dumps(row) for row in rows]
    if output is None:
        print("\n".join(lines))
        return
    with atomic_path(output) as tmp, open(tmp, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    print(f"Wrote {len(lines)} results to {output}")


def _cmd_index_build(args):
    from keras_o2v.retrieval.recommend import index_from_file

    index = index_from_file(_load_any_model(args.model_dir), args.input,
                            channel=args.channel, metric=args.metric,
                            backend="faiss" if args.ann else "exact")
    index.save(args.output)
    summary = {"index": args.output, **index.get_config()}
    if args.ann:
        # Recall of the graph against exact search, on stored vectors.
        sample = index.vectors[:min(len(index), 1000)]
        summary["recall@10_vs_exact"] = index.recall_against_exact(sample, 10)
    print(json.dumps(summary, indent=2))


def _cmd_index_query(args):
    from keras_o2v.retrieval import EmbeddingIndex
    from keras_o2v.retrieval.recommend import id_lists
    from keras_o2v.retrieval.recommend import query_instances
    from keras_o2v.retrieval.recommend import read_jsonl

    index = EmbeddingIndex.load(args.index)
    exact = True if args.exact else None
    if args.ids:
        # Ids as stored: numbers when the index holds numbers.
        ids = [int(x) if index.ids.dtype.kind in "iu" else x
               for x in args.ids.split(",")]
        found, scores = index.similar(ids, k=args.k, exact=exact)
        queries = [{"id": x} for x in ids]
    else:
        if not (args.model_dir and args.input):
            raise ValueError("`index query` needs --ids, or --model-dir and "
                             "--input (instances to embed).")
        queries = read_jsonl(args.input)
        exclude = id_lists(queries, "exclude")
        found, scores = query_instances(
            _load_any_model(args.model_dir), index,
            [{args.channel: q[args.channel]} for q in queries], k=args.k,
            channel=args.channel, exclude=exclude if any(exclude) else None,
            exact=exact)
    rows = []
    for query, ids, values in zip(queries, found.tolist(), scores.tolist()):
        kept = [(i, s) for i, s in zip(ids, values) if s != float("-inf")]
        row = {"ids": [i for i, _ in kept], "scores": [s for _, s in kept]}
        if "id" in query:
            row = {"id": query["id"], **row}
        rows.append(row)
    _print_jsonl(rows, args.output)


def _cmd_evaluate_retrieval(args):
    from keras_o2v.inference import embed
    from keras_o2v.retrieval import EmbeddingIndex
    from keras_o2v.retrieval import evaluate_retrieval
    from keras_o2v.retrieval.recommend import id_lists
    from keras_o2v.retrieval.recommend import index_from_file
    from keras_o2v.retrieval.recommend import read_jsonl

    if (args.index is None) == (args.candidates is None):
        raise ValueError("`evaluate-retrieval` needs exactly one of --index "
                         "and --candidates.")
    model = _load_any_model(args.model_dir)
    index = (EmbeddingIndex.load(args.index) if args.index else
             index_from_file(model, args.candidates, metric=args.metric))
    queries = read_jsonl(args.queries)
    exclude = id_lists(queries, "exclude")
    results = evaluate_retrieval(
        index, embed(model, [{"in0": q["in0"]} for q in queries], "in0"),
        id_lists(queries, "relevant"),
        exclude=exclude if any(exclude) else None,
        ks=tuple(args.k or [10]))
    print(json.dumps({f"{args.split}:{k}": v for k, v in results.items()},
                     indent=2, sort_keys=True))


def _line_numbers(path):
    """File line number of each non-blank line, as `read_jsonl` counts."""
    with open(path, "rb") as f:
        return [n for n, line in enumerate(f, 1) if line.strip()]


def _column(rows, path, field, flag):
    """`row[field]` of every row; a missing one names its file line."""
    for i, row in enumerate(rows):
        if field not in row:
            raise ValueError(
                f"{path}:{_line_numbers(path)[i]}: field `{field}` ({flag}) "
                f"missing; every line must hold it. Keys on that line: "
                f"{sorted(row)}")
    return [row[field] for row in rows]


def _cell(value):
    # Lists (several genres) become one category/label; null an empty one.
    if isinstance(value, list):
        return "|".join(map(str, value))
    return "" if value is None else value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_embeddings(path):
    """`(rows, float32 vectors)` of `{"embeddings": [...]}` lines."""
    from keras_o2v.retrieval.recommend import read_jsonl

    rows = read_jsonl(path)
    values = _column(rows, path, "embeddings", "as `keras-o2v embed` writes")
    width = len(values[0]) if values and isinstance(values[0], list) else 0
    for i, vector in enumerate(values):
        if not (isinstance(vector, list) and vector and len(vector) == width
                and all(map(_is_number, vector))):
            raise ValueError(
                f"{path}:{_line_numbers(path)[i]}: field `embeddings` must "
                f"be a non-empty list of numbers, as long as the first "
                f"line's ({width}). Received: {vector!r:.80}")
    return rows, np.asarray(values, np.float32).reshape(len(values), width)


def _cmd_visualize(args):
    from keras_o2v.instances import input_specs
    from keras_o2v.instances import to_arrays
    from keras_o2v.inference import embed
    from keras_o2v.retrieval.recommend import read_jsonl
    from keras_o2v.visualization import check_method
    from keras_o2v.visualization import export_projector
    from keras_o2v.visualization import plot_embeddings

    if not (args.output or args.projector_dir):
        raise ValueError("`visualize` needs --output (PNG map) and/or "
                         "--projector-dir (TensorBoard projector files).")
    if args.embeddings is None and (args.input is None or
                                    args.model_dir is None):
        raise ValueError("`visualize` needs --model-dir and --input "
                         "(instances to embed), or --embeddings (what "
                         "`keras-o2v embed` writes).")
    if args.embeddings is not None and args.model_dir is not None:
        raise ValueError("`--model-dir` is not used with --embeddings: the "
                         "vectors are already computed.")
    if args.max_points is not None and args.max_points < 2:
        raise ValueError(f"`--max-points` must be at least 2. Received: "
                         f"--max-points {args.max_points}")
    if args.max_labels < 0:
        raise ValueError(f"`--max-labels` must be 0 or more. Received: "
                         f"--max-labels {args.max_labels}")
    if args.output:
        check_method(args.method)  # before minutes of embedding

    # `path` holds the rows that give labels: --input, else --embeddings.
    path = args.input
    rows = read_jsonl(path) if path else None
    if args.embeddings is not None:
        embedded_rows, vectors = _read_embeddings(args.embeddings)
        if rows is not None and len(rows) != len(vectors):
            raise ValueError(
                f"{path} holds {len(rows)} instances but "
                f"{args.embeddings} holds {len(vectors)} embeddings; "
                f"`keras-o2v embed` writes one per input line, in order.")
        if rows is None:
            rows, path = embedded_rows, args.embeddings
    if len(rows) < 2:
        raise ValueError(f"{path} must hold at least 2 instances to draw a "
                         f"map. Received: {len(rows)}")
    labels = colors = None
    if args.labels_field:
        labels = [str(_cell(v)) for v in _column(
            rows, path, args.labels_field, "--labels-field")]
    if args.color_field:
        colors = [_cell(v) for v in _column(rows, path, args.color_field,
                                            "--color-field")]
        if not all(map(_is_number, colors)):
            colors = [str(c) for c in colors]  # categories, not a scale
    channel = args.channel
    if args.embeddings is None:
        if channel is None:
            channel = ("in1" if "in1" in rows[0] and "in0" not in rows[0]
                       else "in0")
        _column(rows, path, channel, "--channel")

    keep = np.arange(len(rows))
    if args.max_points is not None and len(rows) > args.max_points:
        keep = np.sort(np.random.default_rng(args.seed).choice(
            len(rows), args.max_points, replace=False))
    if args.embeddings is not None:
        vectors = vectors[keep]
    else:
        model = _load_any_model(args.model_dir)
        instances = [{channel: rows[i][channel]} for i in keep]
        lines = _line_numbers(path)
        # Checked here so that an error names the file line.
        to_arrays(instances,
                  {channel: input_specs(model.hyperparameters)[channel]},
                  locate=lambda i: f"{path}:{lines[keep[i]]}")
        vectors = embed(model, instances, channel=channel)
    if labels is not None:
        labels = [labels[i] for i in keep]
    if colors is not None:
        colors = [colors[i] for i in keep]

    if args.output:
        plot_embeddings(vectors, args.output, labels=labels, colors=colors,
                        method=args.method, title=args.title,
                        max_labels=args.max_labels, seed=args.seed,
                        colors_title=args.color_field)
        print(f"Wrote a {METHOD_NAMES[args.method]} map of {len(vectors)} "
              f"embeddings to {args.output}")
    if args.projector_dir:
        metadata = {}
        for field, values in ((args.labels_field, labels),
                              (args.color_field, colors)):
            if values is not None:
                metadata.setdefault(field, values)
        if len(metadata) == 1:  # one column: no header row
            metadata = next(iter(metadata.values()))
        paths = export_projector(vectors, args.projector_dir,
                                 metadata=metadata or None)
        print(f"Wrote {len(vectors)} vectors to {args.projector_dir} "
              f"({', '.join(os.path.basename(p) for p in paths.values())}); "
              f"tensorboard --logdir {args.projector_dir}")


def _cmd_tune(args):
    try:
        from keras_o2v.tuning import run_search
    except ImportError as e:
        raise ValueError(str(e)) from None

    tune = None
    if args.tune is not None:
        tune = [n.strip() for n in ",".join(args.tune).split(",") if n.strip()]
    try:
        run_search(args.train, _read_hyperparameters(args.hyperparameters),
                   validation=args.validation, test=args.test,
                   tuning_dir=args.tuning_dir, objective=args.objective,
                   tuner=args.tuner, max_trials=args.max_trials, tune=tune,
                   ranges=_parse_ranges(args.range),
                   fixed=_parse_set(args.set), auxiliary=args.auxiliary,
                   overwrite=args.overwrite, seed=args.seed, top=args.top,
                   fit_verbose=args.verbose)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume the search",
              file=sys.stderr)
        raise SystemExit(130) from None


_MODEL_DIR_HELP = ("directory of a trained model (`keras-o2v train "
                   "--model-dir`)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-o2v",
        description="Object2Vec in Keras 3: learn embeddings of discrete "
                    "objects from labelled pairs.")
    parser.add_argument(
        "--backend-logs", action="store_true",
        help="show TensorFlow's C++ log lines (hidden by default unless a "
             "TF_CPP_* variable such as TF_CPP_MIN_LOG_LEVEL is set)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model on JSON Lines channels")
    p.add_argument("--train", required=True,
                   help="train channel: JSON Lines file/dir, or prepared "
                        "data (`keras-o2v convert`)")
    p.add_argument("--validation",
                   help="validation channel: metrics each epoch and early "
                        "stopping")
    p.add_argument("--test", help="test channel, evaluated at the end")
    p.add_argument("--auxiliary", help="directory of vocab/embedding files")
    p.add_argument("--hyperparameters", metavar="FILE.json",
                   help="SageMaker-style map of hyperparameters")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="override one hyperparameter (repeatable)")
    p.add_argument("--model-dir", required=True, help="output directory")
    p.add_argument("--seed", type=int, help="seed for weights and shuffling")
    p.add_argument("--no-validate-data", action="store_true",
                   help="skip the validation pass before training")
    p.add_argument("--no-early-stopping", action="store_true",
                   help="run all `epochs` and keep the last epoch's weights; "
                        "the validation channel is still evaluated each "
                        "epoch (early_stopping_patience and "
                        "early_stopping_tolerance are then unused)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="Keras progress: 0 silent, 1 bar, 2 line per epoch "
                        "(default: 1 on a terminal, else 2, so that log "
                        "files get no bar or colour codes)")
    p.add_argument("--distribution", default="auto",
                   choices=("auto", "none", "mirrored", "multi_worker"),
                   help="auto: multi_worker if TF_CONFIG names several "
                        "tasks, mirrored if several GPUs, else none")
    p.add_argument("--global-batch", action="store_true",
                   help="mini_batch_size is the global batch (default: per "
                        "replica, global = mini_batch_size x replicas)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="mixed_bfloat16/mixed_float16 compute, float32 "
                        "output layer")
    g = p.add_argument_group(
        "retrieval objective",
        "--objective retrieval trains a two-tower model (the same enc0_*/"
        "enc1_* encoders, no comparator or MLP) with the in-batch softmax on "
        "the positive pairs (label != 0); the batch's other in1 are the "
        "negatives. Validation and test report the loss and in-batch "
        "hits@10; rank the whole catalogue with `evaluate-retrieval`.")
    g.add_argument("--objective", default="object2vec",
                   choices=("object2vec", "retrieval"),
                   help="object2vec (default): SageMaker's model and losses")
    g.add_argument("--similarity", choices=("cosine", "dot"),
                   help="pair score (default cosine)")
    g.add_argument("--temperature", type=float,
                   help="logits = score / temperature (default 0.1)")
    g.add_argument("--logq-correction", action="store_true",
                   help="subtract log(frequency of each in1) from its logit: "
                        "in-batch negatives follow popularity (one-token "
                        "in1)")
    g.add_argument("--train-metrics", action="store_true",
                   help="also rank hits@10 at every training step (slow)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="metrics of a model on a channel")
    p.add_argument("--model-dir", required=True, help=_MODEL_DIR_HELP)
    p.add_argument("--data", required=True,
                   help="labelled JSON Lines, or prepared data")
    p.add_argument("--split", default="test",
                   help="metric prefix, as in test:accuracy (default test)")
    p.add_argument("--batch-size", type=int, default=1024,
                   help="records per model call (default 1024)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("embed", help="embed in0 or in1 instances")
    p.add_argument("--model-dir", required=True, help=_MODEL_DIR_HELP)
    p.add_argument("--input", required=True,
                   help="JSON Lines of {\"in0\": [...]} or {\"in1\": [...]}")
    p.add_argument("--output", required=True,
                   help="JSON Lines of {\"embeddings\": [...]}")
    p.add_argument("--channel", default="in0", choices=("in0", "in1"),
                   help="encoder to use, and the field read from each line "
                        "(default in0)")
    p.add_argument("--batch-size", type=int, default=1024,
                   help="instances per model call (default 1024)")
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("export", help="SavedModel for TensorFlow Serving")
    p.add_argument("--model-dir", required=True, help=_MODEL_DIR_HELP)
    p.add_argument("--export-dir", required=True,
                   help="writes EXPORT_DIR/NAME/VERSION/saved_model.pb")
    p.add_argument("--name", default="object2vec", help="model name")
    p.add_argument("--version", type=int,
                   help="version number (default: latest + 1)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("serve",
                       help="REST server: SageMaker and TF Serving APIs")
    p.add_argument("--model-dir", required=True, help=_MODEL_DIR_HELP)
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (0.0.0.0: all; default local only)")
    p.add_argument("--port", type=int, default=8080,
                   help="TCP port (default 8080)")
    p.add_argument("--model-name", default="object2vec",
                   help="NAME in /v1/models/NAME:predict")
    p.add_argument("--max-payload-mb", type=float, default=6,
                   help="larger request bodies get HTTP 413 (default 6)")
    p.add_argument("--max-padded-ids", type=int, default=4_000_000,
                   help="HTTP 413 for requests padding to more ids (rows x "
                        "width after truncation, summed over the inputs; "
                        "default 4000000)")
    p.add_argument("--body-timeout", type=float, default=30,
                   help="HTTP 408 for request bodies not received whole "
                        "within this many seconds (default 30)")
    p.add_argument("--max-connections", type=int, default=256,
                   help="HTTP 503 for requests beyond this many in flight "
                        "(/ping exempt; default 256)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("predict", help="batch prediction over JSON Lines")
    p.add_argument("--model-dir", required=True, help=_MODEL_DIR_HELP)
    p.add_argument("--input", required=True,
                   help="JSON Lines of {\"in0\": [...], \"in1\": [...]} "
                        "(scores) or of one of them (embeddings)")
    p.add_argument("--output", required=True,
                   help="one {\"scores\": [...]} or {\"embeddings\": "
                        "[...]} per input line")
    p.add_argument("--accept", default="application/jsonlines",
                   choices=("application/jsonlines", "application/json"),
                   help="output format: one object per line (default), or "
                        "one {\"predictions\": [...]} document")
    p.add_argument("--chunk-lines", type=int, default=1024,
                   help="lines per model call")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("prepare", help="text pairs -> JSON Lines + vocab")
    p.add_argument("--train", required=True, help="TSV/CSV/JSONL of pairs")
    p.add_argument("--validation",
                   help="validation pairs, same columns (vocab from --train)")
    p.add_argument("--test", help="test pairs, same columns")
    p.add_argument("--out-dir", required=True,
                   help="writes {train,validation,test}.jsonl, vocab.json "
                        "and prepare.json")
    p.add_argument("--text0", required=True, help="column of in0's text "
                   "(header name or 0-based position)")
    p.add_argument("--text1", required=True, help="column of in1's text")
    p.add_argument("--label", help="label column (omit for unlabelled data)")
    p.add_argument("--label-map", help="e.g. entailment=0,neutral=1")
    p.add_argument("--min-frequency", type=int, default=1,
                   help="fewest occurrences in --train a word needs to get "
                        "an id (default 1)")
    p.add_argument("--max-vocab-size", type=int,
                   help="most ids, <pad> and <unk> included (default: no "
                        "limit)")
    p.add_argument("--embeddings", help="GloVe file to trim to the vocab")
    p.add_argument("--extend-with-embeddings", action="store_true",
                   help="add validation/test words that have a vector")
    p.add_argument("--delimiter", help="field separator (default: by "
                   "extension, tab unless .csv)")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser(
        "convert", help="JSON Lines -> prepared data (sharded TFRecord)",
        description="Validates JSON Lines as `train` does and writes "
                    "prepared data: TFRecord shards and a manifest, which "
                    "every command that takes a channel reads natively "
                    "(faster than JSON Lines for large data). Nothing is "
                    "written if a record is bad.")
    p.add_argument("--input", required=True, action="append",
                   help="JSON Lines file or directory (repeatable)")
    p.add_argument("--output", required=True,
                   help="prepared directory (replaced if it exists)")
    p.add_argument("--hyperparameters", metavar="FILE.json",
                   help="validate ids and labels against these vocab sizes, "
                        "output_layer and num_classes (default: any "
                        "non-negative ids, any finite labels; training "
                        "checks the manifest's bounds)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="override one hyperparameter (repeatable)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="parallel processes (default: the CPU count)")
    p.add_argument("--records-per-shard", type=int, default=100_000,
                   help="records per shard file (default 100000)")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("demo-data", help="write a small synthetic data set")
    p.add_argument("out_dir",
                   help="writes train, validation, test and embed .jsonl "
                        "and hyperparameters.json")
    p.add_argument("--num-train", type=int, default=4000,
                   help="train records (default 4000; validation and test "
                        "get an eighth as many each, at least 50)")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the data (default 0)")
    p.set_defaults(func=_cmd_demo_data)

    p = sub.add_parser(
        "tune", help="search hyperparameters with KerasTuner",
        description="Searches SageMaker's tuning ranges (enc_dim, dropout and "
                    "optimizer always; every other recommended range the "
                    "--hyperparameters file leaves unset) and writes "
                    "best_hyperparameters.json and best_model/model.keras "
                    "to --tuning-dir. An interrupted search resumes.")
    p.add_argument("--train", required=True, help="train channel (file/dir)")
    p.add_argument("--validation", required=True,
                   help="validation channel: objective and early stopping")
    p.add_argument("--test", help="test channel, evaluated with the best "
                                  "model at the end")
    p.add_argument("--auxiliary", help="directory of vocab/embedding files")
    p.add_argument("--hyperparameters", metavar="FILE.json",
                   help="SageMaker-style map: problem facts and settings "
                        "(tuned names override it)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="fix one hyperparameter (hp.Fixed; repeatable)")
    p.add_argument("--range", action="append", metavar="NAME=LOW:HIGH",
                   help="tune NAME over a range (LOW:HIGH) or choices (A,B "
                        "or A|B); narrows SageMaker's range (repeatable)")
    p.add_argument("--tune", action="append", metavar="NAME[,NAME]",
                   help="tune only these names (plus enc_dim, dropout, "
                        "optimizer and every --range)")
    p.add_argument("--objective", choices=("validation:mean_squared_error",
                                           "validation:accuracy",
                                           "validation:cross_entropy"),
                   help="SageMaker objective metric (default: accuracy for "
                        "softmax, mean_squared_error for regression)")
    p.add_argument("--tuner", default="random",
                   choices=("random", "bayesian", "hyperband"),
                   help="KerasTuner search algorithm (default random)")
    p.add_argument("--max-trials", type=int, default=10,
                   help="trials in all, finished ones of a resumed search "
                        "included (default 10)")
    p.add_argument("--tuning-dir", required=True,
                   help="search directory (trials, leaderboard, best files)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", dest="overwrite", action="store_false",
                       help="continue the search in --tuning-dir (default)")
    group.add_argument("--overwrite", dest="overwrite", action="store_true",
                       help="delete the search in --tuning-dir first")
    p.set_defaults(overwrite=False)
    p.add_argument("--seed", type=int, help="seed for the oracle and trials")
    p.add_argument("--top", type=int, default=10,
                   help="trials shown in the leaderboard (default 10)")
    p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2),
                   help="Keras progress inside trials (default 0)")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("index", help="embedding index: build, query")
    index_sub = p.add_subparsers(dest="index_command", required=True)
    p = index_sub.add_parser("build", help="embed instances into an index")
    p.add_argument("--model-dir", required=True, help=_MODEL_DIR_HELP)
    p.add_argument("--input", required=True,
                   help="JSON Lines of {\"in1\": [...], \"id\": ...} "
                        "(id optional: line number)")
    p.add_argument("--channel", default="in1", choices=("in0", "in1"),
                   help="encoder to use, and the field read from each line "
                        "(default in1)")
    p.add_argument("--output", required=True, help="index directory")
    p.add_argument("--metric", default="cosine", choices=("cosine", "dot"),
                   help="similarity: cosine (default) or dot product")
    p.add_argument("--ann", action="store_true",
                   help="add an HNSW graph (faiss; `ann` extra)")
    p.set_defaults(func=_cmd_index_build)
    p = index_sub.add_parser("query", help="top-k ids by instance or by id")
    p.add_argument("--index", required=True,
                   help="directory of `keras-o2v index build`")
    p.add_argument("--ids", help="comma-separated index ids: similar items")
    p.add_argument("--model-dir", help="model that embeds --input")
    p.add_argument("--input", help="JSON Lines of {\"in0\": [...]} with "
                                   "optional \"exclude\": [ids]")
    p.add_argument("--channel", default="in0", choices=("in0", "in1"),
                   help="encoder that embeds --input, and the field read "
                        "from each line (default in0)")
    p.add_argument("--k", type=int, default=10,
                   help="ids returned per query (default 10)")
    p.add_argument("--exact", action="store_true",
                   help="exact search even on an ANN index")
    p.add_argument("--output", help="JSON Lines of {\"ids\", \"scores\"} "
                                    "(default stdout)")
    p.set_defaults(func=_cmd_index_query)

    p = sub.add_parser("evaluate-retrieval",
                       help="hits@k, recall@k, NDCG@k, MRR, mean rank")
    p.add_argument("--model-dir", required=True, help=_MODEL_DIR_HELP)
    p.add_argument("--queries", required=True,
                   help="JSON Lines of {\"in0\": [...], \"relevant\": "
                        "[ids], \"exclude\": [ids]}")
    p.add_argument("--index", help="index of the candidates")
    p.add_argument("--candidates", help="or JSON Lines of in1 instances")
    p.add_argument("--metric", default="cosine", choices=("cosine", "dot"),
                   help="with --candidates")
    p.add_argument("--k", type=int, action="append",
                   help="cut-off (repeatable; default 10)")
    p.add_argument("--split", default="test", help="metric prefix")
    p.set_defaults(func=_cmd_evaluate_retrieval, k=None)

    p = sub.add_parser(
        "visualize", help="2-D map (PNG) and TensorBoard projector files",
        description="Embeds instances with a trained model (or reads "
                    "precomputed embeddings) and writes a 2-D map as PNG "
                    "(PCA; t-SNE with scikit-learn, UMAP with umap-learn) "
                    "and/or TensorBoard Embedding Projector files.")
    p.add_argument("--model-dir", help="model that embeds --input")
    p.add_argument("--input",
                   help="JSON Lines of {\"in0\": [...]} or {\"in1\": "
                        "[...]} plus label fields; with --embeddings, only "
                        "the labels (one line per embedding)")
    p.add_argument("--embeddings",
                   help="JSON Lines of {\"embeddings\": [...]} (what "
                        "`keras-o2v embed` writes) instead of --model-dir")
    p.add_argument("--channel", choices=("in0", "in1"),
                   help="encoder (default: the field on the first line)")
    p.add_argument("--labels-field", metavar="NAME",
                   help="field written beside points and in metadata.tsv")
    p.add_argument("--color-field", metavar="NAME",
                   help="field that colours points (categories or numbers)")
    p.add_argument("--method", default="pca", choices=METHODS,
                   help="2-D projection of the PNG (default pca)")
    p.add_argument("--output", metavar="MAP.png", help="PNG map")
    p.add_argument("--projector-dir", metavar="DIR",
                   help="writes vectors.tsv, metadata.tsv and "
                        "projector_config.pbtxt")
    p.add_argument("--max-points", type=int,
                   help="random sample of at most this many instances")
    p.add_argument("--max-labels", type=int, default=40,
                   help="text labels drawn on the map (default 40)")
    p.add_argument("--title", help="map title")
    p.add_argument("--seed", type=int, default=0,
                   help="sample, t-SNE/UMAP and labelled points")
    p.set_defaults(func=_cmd_visualize)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.backend_logs:
        _quiet_backend_logs()
    # Our own logger only: TensorFlow's INFO chatter stays off stdout.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    package_logger = logging.getLogger("keras_o2v")
    package_logger.addHandler(handler)
    level = package_logger.level
    package_logger.setLevel(logging.INFO)
    try:
        args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        # `main` may run many times in one process (tests, notebooks).
        package_logger.removeHandler(handler)
        package_logger.setLevel(level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
