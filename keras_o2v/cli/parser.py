"""The `keras-o2v` argument parser: every subcommand, option and help."""

import argparse
import os

from keras_o2v.cli import commands
from keras_o2v.visualization import METHODS

# Choice lists of the library's constants, spelled out so that `--help`
# imports no Keras; tests/test_cli.py ties each to its constant.
CHOICES = {
    "channel": ("in0", "in1"),  # instances.CHANNELS
    "distribution": ("auto", "none", "mirrored", "multi_worker"),
    "objective": ("object2vec", "retrieval"),  # training.retrieval
    "similarity": ("cosine", "dot"),  # retrieval.losses.SIMILARITIES
    "index_metric": ("cosine", "dot"),  # retrieval.index.METRICS
    "accept": ("application/jsonlines", "application/json"),
    "tuner": ("random", "bayesian", "hyperband"),  # tuning.search.TUNERS
    "tune_objective": ("validation:mean_squared_error",
                       "validation:accuracy", "validation:cross_entropy"),
    "method": METHODS,
}


def _sub(sub, name, func, help, **kwargs):
    """A subcommand parser; `add` adds an option, help text required."""
    p = sub.add_parser(name, help=help, **kwargs)
    p.set_defaults(func=func)

    def add(*flags, help, **options):
        p.add_argument(*flags, help=help, **options)
    return p, add


def _add_model_dir(add, required=True):
    add("--model-dir", required=required,
        help="directory of a trained model (`keras-o2v train --model-dir`)")


def _add_hyperparameters(add, set_help="override one hyperparameter "
                         "(repeatable)"):
    add("--hyperparameters", metavar="FILE.json",
        help="SageMaker-style map of hyperparameters")
    add("--set", action="append", metavar="NAME=VALUE", help=set_help)


def _add_channels(add, validation_help, validation_required=False):
    add("--train", required=True, help="train channel: JSON Lines file/dir, "
        "or prepared data (`keras-o2v convert`)")
    add("--validation", required=validation_required, help=validation_help)
    add("--test", help="test channel, evaluated at the end")
    add("--auxiliary", help="directory of vocab/embedding files")


def _add_train(sub):
    p, add = _sub(sub, "train", commands.run_train,
                  "train a model on JSON Lines or prepared channels")
    _add_channels(add, "validation channel: metrics each epoch and early "
                  "stopping")
    _add_hyperparameters(add)
    add("--model-dir", required=True, help="output directory")
    add("--seed", type=int, help="seed for weights and shuffling")
    add("--no-validate-data", action="store_true",
        help="skip the validation pass before training")
    add("--no-early-stopping", action="store_true",
        help="run all `epochs`, keep the last weights; validation is still "
             "evaluated each epoch")
    add("--verbose", type=int, choices=(0, 1, 2),
        help="0 silent, 1 progress bar, 2 a line per epoch (default: 1 on a "
             "terminal, else 2: no bars or colour codes in log files)")
    add("--distribution", default="auto", choices=CHOICES["distribution"],
        help="auto: multi_worker if TF_CONFIG names several tasks, mirrored "
             "if several GPUs, else none")
    add("--global-batch", action="store_true",
        help="mini_batch_size is the global batch (default: per replica)")
    add("--mixed-precision", action="store_true",
        help="mixed_bfloat16/mixed_float16 compute, float32 output layer")
    g = p.add_argument_group(
        "retrieval objective", "--objective retrieval trains two towers (the "
        "enc0_*/enc1_* encoders) with the in-batch softmax on the positive "
        "pairs (label != 0); see the retrieval guide.")
    g.add_argument("--objective", default="object2vec",
                   choices=CHOICES["objective"],
                   help="object2vec (default): SageMaker's model and losses")
    g.add_argument("--similarity", choices=CHOICES["similarity"],
                   help="pair score (default cosine)")
    g.add_argument("--temperature", type=float,
                   help="logits = score / temperature (default 0.1)")
    g.add_argument("--logq-correction", action="store_true",
                   help="subtract log(frequency) of each in1 from its logit")
    g.add_argument("--train-metrics", action="store_true",
                   help="also rank hits@10 at every training step (slow)")


def _add_inference(sub):
    _, add = _sub(sub, "evaluate", commands.run_evaluate,
                  "metrics of a model on a channel")
    _add_model_dir(add)
    add("--data", required=True, help="labelled JSON Lines, or prepared data")
    add("--split", default="test", help="metric prefix (default test)")
    add("--batch-size", type=int, default=1024,
        help="records per model call (default 1024)")

    _, add = _sub(sub, "embed", commands.run_embed,
                  "embed in0 or in1 instances")
    _add_model_dir(add)
    add("--input", required=True, help='JSON Lines of {"in0": [...]} or '
        '{"in1": [...]}')
    add("--output", required=True, help='JSON Lines of {"embeddings": [...]}')
    add("--channel", default="in0", choices=CHOICES["channel"],
        help="encoder, and the field read from each line (default in0)")
    add("--batch-size", type=int, default=1024,
        help="instances per model call (default 1024)")

    _, add = _sub(sub, "predict", commands.run_predict,
                  "batch prediction over JSON Lines")
    _add_model_dir(add)
    add("--input", required=True, help='JSON Lines of {"in0": [...], "in1": '
        '[...]} (scores) or of one of them (embeddings)')
    add("--output", required=True, help="one prediction per input line")
    add("--accept", default=CHOICES["accept"][0], choices=CHOICES["accept"],
        help='one object per line (default), or one {"predictions": [...]}')
    add("--chunk-lines", type=int, default=1024, help="lines per model call")

    _, add = _sub(sub, "export", commands.run_export,
                  "SavedModel for TF Serving")
    _add_model_dir(add)
    add("--export-dir", required=True,
        help="writes EXPORT_DIR/NAME/VERSION/saved_model.pb")
    add("--name", default="object2vec", help="model name")
    add("--version", type=int, help="version number (default: latest + 1)")

    _, add = _sub(sub, "serve", commands.run_serve,
                  "REST server: SageMaker and TF Serving APIs")
    _add_model_dir(add)
    add("--host", default="127.0.0.1",
        help="interface to bind (0.0.0.0: all; default local only)")
    add("--port", type=int, default=8080, help="TCP port (default 8080)")
    add("--model-name", default="object2vec",
        help="NAME in /v1/models/NAME:predict")
    add("--max-payload-mb", type=float, default=6,
        help="HTTP 413 for larger request bodies (default 6)")
    add("--max-padded-ids", type=int, default=4_000_000,
        help="HTTP 413 for requests padding to more ids (default 4000000)")
    add("--body-timeout", type=float, default=30,
        help="HTTP 408 for bodies not received within this many seconds "
             "(default 30)")
    add("--max-connections", type=int, default=256,
        help="HTTP 503 beyond this many requests in flight (default 256)")


def _add_data(sub):
    _, add = _sub(sub, "prepare", commands.run_prepare,
                  "text pairs -> JSON Lines + vocab")
    add("--train", required=True, help="TSV/CSV/JSONL of pairs")
    add("--validation", help="validation pairs (vocab from --train)")
    add("--test", help="test pairs, same columns")
    add("--out-dir", required=True, help="writes {train,validation,test}"
        ".jsonl, vocab.json and prepare.json")
    add("--text0", required=True,
        help="column of in0's text (header name or 0-based position)")
    add("--text1", required=True, help="column of in1's text")
    add("--label", help="label column (omit for unlabelled data)")
    add("--label-map", help="e.g. entailment=0,neutral=1")
    add("--min-frequency", type=int, default=1,
        help="occurrences in --train a word needs to get an id (default 1)")
    add("--max-vocab-size", type=int,
        help="most ids, <pad> and <unk> included (default: no limit)")
    add("--embeddings", help="GloVe file to trim to the vocab")
    add("--extend-with-embeddings", action="store_true",
        help="add validation/test words that have a vector")
    add("--delimiter", help="field separator (default: tab unless .csv)")

    _, add = _sub(sub, "convert", commands.run_convert,
                  "JSON Lines -> prepared data (sharded TFRecord)",
                  description="Validates JSON Lines as `train` does and "
                  "writes TFRecord shards and a manifest, read natively by "
                  "every command that takes a channel. Nothing is written "
                  "if a record is bad.")
    add("--input", required=True, action="append",
        help="JSON Lines file or directory (repeatable)")
    add("--output", required=True,
        help="prepared directory (replaced if it exists)")
    _add_hyperparameters(add)
    add("--workers", type=int, default=os.cpu_count() or 1,
        help="parallel processes (default: the CPU count)")
    add("--records-per-shard", type=int, default=100_000,
        help="records per shard file (default 100000)")

    _, add = _sub(sub, "demo-data", commands.run_demo_data,
                  "write a small synthetic data set")
    add("out_dir", help="writes train, validation, test and embed .jsonl "
        "and hyperparameters.json")
    add("--num-train", type=int, default=4000, help="train records (default "
        "4000; validation and test an eighth each, at least 50)")
    add("--seed", type=int, default=0, help="random seed (default 0)")


def _add_tune(sub):
    p, add = _sub(sub, "tune", commands.run_tune,
                  "search hyperparameters with KerasTuner",
                  description="Searches SageMaker's tuning "
                  "ranges and writes best_hyperparameters.json and "
                  "best_model/ to --tuning-dir. An interrupted search "
                  "resumes.")
    _add_channels(add, "validation channel: objective and early stopping",
                  validation_required=True)
    _add_hyperparameters(add, "fix one hyperparameter (repeatable)")
    add("--range", action="append", metavar="NAME=LOW:HIGH",
        help="tune NAME over LOW:HIGH or choices A,B (or A|B) (repeatable)")
    add("--tune", action="append", metavar="NAME[,NAME]",
        help="tune only these names (plus enc_dim, dropout, optimizer)")
    add("--objective", choices=CHOICES["tune_objective"],
        help="default: accuracy for softmax, mean_squared_error otherwise")
    add("--tuner", default="random", choices=CHOICES["tuner"],
        help="KerasTuner search algorithm (default random)")
    add("--max-trials", type=int, default=10,
        help="trials in all, a resumed search's included (default 10)")
    add("--tuning-dir", required=True,
        help="search directory (trials, leaderboard, best files)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", dest="overwrite", action="store_false",
                       help="continue the search in --tuning-dir (default)")
    group.add_argument("--overwrite", dest="overwrite", action="store_true",
                       help="delete the search in --tuning-dir first")
    add("--seed", type=int, help="seed for the oracle and trials")
    add("--top", type=int, default=10,
        help="trials shown in the leaderboard (default 10)")
    add("--verbose", type=int, default=0, choices=(0, 1, 2),
        help="Keras progress inside trials (default 0)")


def _add_retrieval(sub):
    p, _ = _sub(sub, "index", None, "embedding index: build, query")
    index_sub = p.add_subparsers(dest="index_command", required=True)
    _, add = _sub(index_sub, "build", commands.run_index_build,
                  "embed instances into an index")
    _add_model_dir(add)
    add("--input", required=True,
        help='JSON Lines of {"in1": [...], "id": ...} (id optional)')
    add("--channel", default="in1", choices=CHOICES["channel"],
        help="encoder, and the field read from each line (default in1)")
    add("--output", required=True, help="index directory")
    add("--metric", default="cosine", choices=CHOICES["index_metric"],
        help="similarity (default cosine)")
    add("--ann", action="store_true",
        help="add an HNSW graph (faiss; `ann` extra)")

    _, add = _sub(index_sub, "query", commands.run_index_query,
                  "top-k ids by instance or by id")
    add("--index", required=True, help="directory of `index build`")
    add("--ids", help="comma-separated index ids: similar items")
    _add_model_dir(add, required=False)
    add("--input", help='JSON Lines of {"in0": [...]}, optional "exclude"')
    add("--channel", default="in0", choices=CHOICES["channel"],
        help="encoder that embeds --input (default in0)")
    add("--k", type=int, default=10, help="ids per query (default 10)")
    add("--exact", action="store_true", help="exact search on an ANN index")
    add("--output", help='JSON Lines of {"ids", "scores"} (default stdout)')

    p, add = _sub(sub, "evaluate-retrieval", commands.run_evaluate_retrieval,
                  "hits@k, recall@k, NDCG@k, MRR, mean rank")
    _add_model_dir(add)
    add("--queries", required=True, help='JSON Lines of {"in0": [...], '
        '"relevant": [ids], "exclude": [ids]}')
    add("--index", help="index of the candidates")
    add("--candidates", help="or JSON Lines of in1 instances")
    add("--metric", default="cosine", choices=CHOICES["index_metric"],
        help="with --candidates")
    add("--k", type=int, action="append", help="cut-off (default 10)")
    add("--split", default="test", help="metric prefix")


def _add_visualize(sub):
    _, add = _sub(sub, "visualize", commands.run_visualize,
                  "2-D map (PNG) and TensorBoard projector files")
    _add_model_dir(add, required=False)
    add("--input", help='JSON Lines of {"in0": [...]} or {"in1": [...]} '
        "plus label fields (with --embeddings: the labels only)")
    add("--embeddings", help="what `keras-o2v embed` writes, instead of "
        "--model-dir")
    add("--channel", choices=CHOICES["channel"],
        help="encoder (default: the field on the first line)")
    add("--labels-field", metavar="NAME", help="field that labels points")
    add("--color-field", metavar="NAME", help="field that colours points")
    add("--method", default="pca", choices=CHOICES["method"],
        help="2-D projection of the PNG (default pca)")
    add("--output", metavar="MAP.png", help="PNG map")
    add("--projector-dir", metavar="DIR", help="writes vectors.tsv, "
        "metadata.tsv and projector_config.pbtxt")
    add("--max-points", type=int,
        help="random sample of at most this many instances")
    add("--max-labels", type=int, default=40,
        help="text labels drawn on the map (default 40)")
    add("--title", help="map title")
    add("--seed", type=int, default=0, help="sample and projection seed")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-o2v", description="Object2Vec in Keras 3: learn "
        "embeddings of discrete objects from labelled pairs.")
    parser.add_argument(
        "--backend-logs", action="store_true",
        help="show TensorFlow's C++ log lines (hidden unless a TF_CPP_* "
             "variable is set)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_commands in (_add_train, _add_inference, _add_data, _add_tune,
                         _add_retrieval, _add_visualize):
        add_commands(sub)
    return parser
