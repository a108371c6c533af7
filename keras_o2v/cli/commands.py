"""What each `keras-o2v` command runs: read its arguments, call the
library, print the result.

Every import of the library happens inside the command, so that `--help`
(which builds the parser, and with it these references) imports no Keras.
"""

import json
import os
import sys


def _hyperparameters(args):
    """The --hyperparameters file with the --set overrides."""
    from keras_o2v.hyperparameters import parse_overrides
    from keras_o2v.hyperparameters import read_hyperparameters

    return {**read_hyperparameters(args.hyperparameters),
            **parse_overrides(args.set)}


def run_train(args):
    from keras_o2v.training import train

    result = train(args.train, _hyperparameters(args),
                   validation=args.validation, test=args.test, auxiliary=args.auxiliary,
                   model_dir=args.model_dir, seed=args.seed,
                   validate_data=not args.no_validate_data,
                   verbose="auto" if args.verbose is None else args.verbose,
                   early_stopping=not args.no_early_stopping,
                   distribution=args.distribution,
                   per_replica_batch=not args.global_batch,
                   mixed_precision=args.mixed_precision,
                   objective=args.objective,
                   retrieval=_retrieval_options(args))
    _print_json(result.metrics)


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


def _print_json(obj, prefix=None):
    if prefix is not None:  # SageMaker's "test:accuracy"
        obj = {f"{prefix}:{k}": v for k, v in obj.items()}
    print(json.dumps(obj, indent=2, sort_keys=True))


def _load_model(model_dir):
    from keras_o2v.training import load_model  # any objective's model

    return load_model(model_dir)


def run_evaluate(args):
    from keras_o2v.training import evaluate

    _print_json(evaluate(_load_model(args.model_dir), args.data,
                         batch_size=args.batch_size), prefix=args.split)


def run_embed(args):
    from keras_o2v.inference import embed_file

    model = _load_model(args.model_dir)
    count = embed_file(model, args.input, args.output, channel=args.channel,
                       batch_size=args.batch_size)
    print(f"Wrote {count} embeddings of dimension "
          f"{model.hyperparameters['enc_dim']} to {args.output}")


def run_export(args):
    from keras_o2v.export import SIGNATURES
    from keras_o2v.export import export_saved_model

    path = export_saved_model(_load_model(args.model_dir), args.export_dir,
                              name=args.name, version=args.version)
    print(f"Wrote SavedModel (signatures {', '.join(SIGNATURES)}) to {path}")


def run_serve(args):
    try:
        from keras_o2v.serving.app import serve
    except ImportError as e:
        raise ValueError(f"The server needs the `serve` extra: pip install "
                         f"'keras-o2v[serve]' ({e}).") from None
    from keras_o2v.serving.predictor import Predictor

    predictor = Predictor(_load_model(args.model_dir))
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


def run_predict(args):
    from keras_o2v.batch_predict import predict_file

    count = predict_file(_load_model(args.model_dir), args.input, args.output,
                         accept=args.accept, chunk_lines=args.chunk_lines)
    print(f"Wrote {count} predictions to {args.output}")


def run_prepare(args):
    from keras_o2v.data.prepare import parse_label_map
    from keras_o2v.data.prepare import prepare

    summary = prepare(
        args.train, args.out_dir, args.text0, args.text1, label=args.label,
        validation=args.validation, test=args.test,
        label_map=parse_label_map(args.label_map) if args.label_map else None,
        min_frequency=args.min_frequency, max_vocab_size=args.max_vocab_size,
        embeddings=args.embeddings, delimiter=args.delimiter,
        extend_with_embeddings=args.extend_with_embeddings)
    _print_json(summary)


def run_convert(args):
    from keras_o2v.data.prepared import convert
    from keras_o2v.data.prepared import spec_for_conversion

    manifest = convert(args.input, args.output,
                       spec_for_conversion(_hyperparameters(args)),
                       workers=args.workers,
                       records_per_shard=args.records_per_shard)
    _print_json({"output": args.output, "records": manifest["records"],
                 "shards": len(manifest["shards"]),
                 "max_id": manifest["max_id"], "max_len": manifest["max_len"]})


def run_demo_data(args):
    from keras_o2v.data.synthetic import write_demo_data

    paths = write_demo_data(args.out_dir, num_train=args.num_train,
                            seed=args.seed)
    for name, path in paths.items():
        print(f"{name}: {path}")


def _print_jsonl(rows, output):
    from keras_o2v.atomic import write_jsonl_atomic

    if output is None:
        print("\n".join(json.dumps(row) for row in rows))
    else:
        write_jsonl_atomic(output, rows)
        print(f"Wrote {len(rows)} results to {output}")


def run_index_build(args):
    from keras_o2v.retrieval.recommend import index_from_file

    index = index_from_file(_load_model(args.model_dir), args.input,
                            channel=args.channel, metric=args.metric,
                            backend="faiss" if args.ann else "exact")
    index.save(args.output)
    summary = {"index": args.output, **index.get_config()}
    if args.ann:
        # Recall of the graph against exact search, on stored vectors.
        sample = index.vectors[:min(len(index), 1000)]
        summary["recall@10_vs_exact"] = index.recall_against_exact(sample, 10)
    _print_json(summary)


def run_index_query(args):
    from keras_o2v.retrieval import EmbeddingIndex
    from keras_o2v.retrieval.recommend import query_file
    from keras_o2v.retrieval.recommend import similar_rows

    index = EmbeddingIndex.load(args.index)
    exact = True if args.exact else None
    if args.ids:
        rows = similar_rows(index, args.ids.split(","), k=args.k, exact=exact)
    elif args.model_dir and args.input:
        rows = query_file(_load_model(args.model_dir), index, args.input,
                          k=args.k, channel=args.channel, exact=exact)
    else:
        raise ValueError("`index query` needs --ids, or --model-dir and "
                         "--input (instances to embed).")
    _print_jsonl(rows, args.output)


def run_evaluate_retrieval(args):
    from keras_o2v.retrieval import EmbeddingIndex
    from keras_o2v.retrieval.recommend import evaluate_retrieval_file
    from keras_o2v.retrieval.recommend import index_from_file

    if (args.index is None) == (args.candidates is None):
        raise ValueError("`evaluate-retrieval` needs exactly one of --index "
                         "and --candidates.")
    model = _load_model(args.model_dir)
    index = (EmbeddingIndex.load(args.index) if args.index else
             index_from_file(model, args.candidates, metric=args.metric))
    _print_json(evaluate_retrieval_file(model, index, args.queries,
                                        ks=args.k or [10]), args.split)


def run_visualize(args):
    from keras_o2v.visualization import METHOD_NAMES
    from keras_o2v.visualization import visualize_files

    written = visualize_files(
        args.output, args.projector_dir, instances=args.input,
        model=(lambda: _load_model(args.model_dir)) if args.model_dir
        else None, embeddings=args.embeddings, channel=args.channel,
        labels_field=args.labels_field, color_field=args.color_field,
        method=args.method, max_points=args.max_points,
        max_labels=args.max_labels, title=args.title, seed=args.seed)
    if written["map"]:
        print(f"Wrote a {METHOD_NAMES[args.method]} map of "
              f"{written['points']} embeddings to {args.output}")
    if written["projector"]:
        names = ", ".join(map(os.path.basename, written["projector"].values()))
        print(f"Wrote {written['points']} vectors to {args.projector_dir} "
              f"({names}); tensorboard --logdir {args.projector_dir}")


def run_tune(args):
    try:
        from keras_o2v.tuning import run_search
        from keras_o2v.tuning.space import parse_ranges
        from keras_o2v.hyperparameters import parse_overrides
        from keras_o2v.hyperparameters import read_hyperparameters
    except ImportError as e:
        raise ValueError(str(e)) from None

    tune = None
    if args.tune is not None:
        tune = [n.strip() for n in ",".join(args.tune).split(",") if n.strip()]
    try:
        run_search(args.train, read_hyperparameters(args.hyperparameters),
                   validation=args.validation, test=args.test,
                   tuning_dir=args.tuning_dir, objective=args.objective,
                   tuner=args.tuner, max_trials=args.max_trials, tune=tune,
                   ranges=parse_ranges(args.range),
                   fixed=parse_overrides(args.set), auxiliary=args.auxiliary,
                   overwrite=args.overwrite, seed=args.seed, top=args.top,
                   fit_verbose=args.verbose)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume the search",
              file=sys.stderr)
        raise SystemExit(130) from None
