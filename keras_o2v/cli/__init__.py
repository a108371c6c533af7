"""`keras-o2v` command line: train, evaluate, embed, export, serve, predict,
prepare, convert, demo-data, tune, index, evaluate-retrieval, visualize.

`parser` declares the commands and their options; `commands` runs them by
calling the library. `main` is the only place that turns errors into exit
codes: a `ValueError` (bad data, bad hyperparameter) prints one
`error: ...` line and exits with status 2.

TensorFlow's C++ log lines are hidden unless `--backend-logs` is given or a
TF_CPP_* variable is set; `--help` imports neither Keras nor TensorFlow.
"""

import logging
import sys

from keras_o2v import backend_logs
from keras_o2v.cli.parser import CHOICES
from keras_o2v.cli.parser import build_parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.backend_logs:
        backend_logs.quiet_backend_logs()
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


__all__ = ["CHOICES", "build_parser", "main"]
