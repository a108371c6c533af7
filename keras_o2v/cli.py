"""`keras-o2v` command line: train, evaluate, embed, demo-data.

The only place that turns errors into exit codes: a `ValueError` (bad data,
bad hyperparameter) prints one `error: ...` line and exits with status 2.
"""

import argparse
import json
import logging
import sys


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
        with open(path) as f:
            hp = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"Cannot read hyperparameters from {path!r}: {e}")
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
                   verbose=args.verbose)
    print(json.dumps(result.metrics, indent=2, sort_keys=True))


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


def _cmd_demo_data(args):
    from keras_o2v.data.synthetic import write_demo_data

    paths = write_demo_data(args.out_dir, num_train=args.num_train,
                            seed=args.seed)
    for name, path in paths.items():
        print(f"{name}: {path}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-o2v",
        description="Object2Vec in Keras 3: learn embeddings of discrete "
                    "objects from labelled pairs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model on JSON Lines channels")
    p.add_argument("--train", required=True, help="train channel (file/dir)")
    p.add_argument("--validation", help="validation channel: early stopping")
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
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="Keras progress: 0 silent, 1 bar, 2 line per epoch")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="metrics of a model on a channel")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--data", required=True, help="labelled JSON Lines")
    p.add_argument("--split", default="test", help="metric prefix")
    p.add_argument("--batch-size", type=int, default=1024)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("embed", help="embed in0 or in1 instances")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--input", required=True,
                   help="JSON Lines of {\"in0\": [...]} or {\"in1\": [...]}")
    p.add_argument("--output", required=True,
                   help="JSON Lines of {\"embeddings\": [...]}")
    p.add_argument("--channel", default="in0", choices=("in0", "in1"))
    p.add_argument("--batch-size", type=int, default=1024)
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("demo-data", help="write a small synthetic data set")
    p.add_argument("out_dir")
    p.add_argument("--num-train", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo_data)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # Our own logger only: TensorFlow's INFO chatter stays off stdout.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    package_logger = logging.getLogger("keras_o2v")
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    try:
        args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
