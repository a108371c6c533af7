"""Reuters-21578 ModApte-90 with keras_o2v: multi-label documents as pairs.

As SageMaker's genre-classification notebook does, each document becomes
(document, label) pairs: `in0` = the document's token ids, `in1` = [topic
id], label 1 for each of the document's topics and 0 for negatives: by
default every other topic (`--negatives all`, 90 pairs per document), or a
number of them drawn half uniformly and half in proportion to topic
frequency. (keras_o2v's `negative_sampling_rate` pairs with other records'
`in1`, fully in proportion to frequency: rare topics would almost never be
negatives.)

The steps, as `run` takes them (`main` runs it once per `--seeds` seed):

1. Documents -> token ids (`make_corpus`, `token_ids`). Title + body, the
   title's tokens once more in front (`--title-repeat`), tokenised with
   `keras_o2v.data.prepare`; the `--stop-words` words found in most
   training documents are dropped and all-digit tokens become one `<num>`
   token; the vocabulary comes from the training documents only. 10% of
   the training documents are held out, not for early stopping (their loss
   is lowest after 1-2 epochs, while their F1 still rises) but to choose
   one global probability threshold. How a document enters the model
   (`document_inputs`): with `--document tfidf` (the default) as its
   distinct words weighted by sublinear tf-idf, scaled to unit length (the
   SVM anchor's features, `tfidf_rows`), in a weighted field `words`
   (`enc0_fields`, a keras_o2v extension) that the model sums, `in0` being
   one constant token; with `--document tokens` as its first 400 token
   ids in `in0`, mean-pooled.
2. Training (`train_ensemble`). A pooled-embedding model with a 2-class
   softmax output, trained for a fixed number of epochs. With `--negatives
   all` every (document, topic) pair is a training pair, so it trains
   document by document (`AllTopics`): each step encodes its documents once
   (`in0` and its field) and the 90 topics once with `encoder1`, then runs the
   comparator, MLP and output layer on all their pairs, with a binary
   cross-entropy on the multi-hot labels: the pairs' loss, without encoding
   each document 90 times. With a number of negatives the pairs are written
   to JSON Lines and trained with `keras_o2v.training.train`.
   `mini_batch_size` counts pairs either way (5760 = 64 documents); the
   learning rate decays along a cosine (`--lr-decay`). `--average-epochs K`
   averages each model's probabilities over its last K epochs (a snapshot
   ensemble); `--ensemble N` trains N models (seeds `seed` .. `seed + N -
   1`) and averages their probabilities. With `--refit` (the default) each
   seed then trains again, the same way, on every training document, the
   held-out ones included: those models are tested, at the threshold the
   first ones chose (`--no-refit` tests the first ones).
   With `--wide` (the default) a linear model of the tf-idf rows, one
   weight per (word, topic) and a bias per topic (`Wide`: the SVM anchor's
   model, with its squared hinge and L2, trained with Adam), is fitted
   and refit alike (`train_wide`): the "wide" half of wide & deep, which
   the shared document encoding lacks.
3. Scoring (`score_all`) also encodes each document and each topic once,
   then compares every pair (`compare`): the same scores as `model.predict`
   on the pairs, 10 times faster.
4. Evaluation (`evaluate`): the threshold with the best micro-F1 over
   every held-out (document, topic) pair; a document with no topic over it
   gets its best-scored one (every ModApte document has a topic). Micro-
   and macro-F1 over the 90 topics on the ModApte test split, for each
   model and for the ensemble. With `--wide` the ensemble's probabilities
   and the wide model's Platt-scaled margins are averaged in logits
   (`wide_and_deep`); the held-out documents choose the scaling, the
   weight and the threshold. Each part's own figures are printed too.

`--glove` initialises the token table from GloVe 6B 50d through the
auxiliary channel. `--svm-anchor` fits the usual anchor, a linear SVM on
tf-idf, on these very documents, refit alike (a linear SVM reaches micro-F1
about 0.87 on ModApte-90 in the literature: Joachims 1998; Yang & Liu 1999:
0.860).

    python examples/reuters.py --data-dir ../shared/data
    python examples/reuters.py --ensemble 1 --set epochs=1   # a quick run
    python examples/reuters.py --seeds 0 1 2 --svm-anchor    # mean, spread

Results and ablations: examples/README.md.
"""

import argparse
import collections
import dataclasses
import importlib.util
import json
import os
import time

import keras
import numpy as np
import orjson

from keras_o2v.atomic import atomic_path
from keras_o2v.data.prepare import build_vocab
from keras_o2v.data.prepare import tokenize
from keras_o2v.data.prepare import trim_embeddings
from keras_o2v.datasets import default_data_dir
from keras_o2v.datasets import glove_file
from keras_o2v.datasets import reuters
from keras_o2v.hyperparameters import is_weights_key
from keras_o2v.hyperparameters import parse_overrides
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.models.object2vec import make_optimizer
from keras_o2v.training import train
from keras_o2v.training.train import build_model

SVM_MICRO_F1 = 0.87  # the literature's (see above)
# `--svm-anchor` on these documents, split and rule, with and without
# `--refit`.
SVM_HERE = {True: 0.891, False: 0.888}
NUM = "<num>"
GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)

HYPERPARAMETERS = {
    "enc0_network": "pooled_embedding",
    "enc0_max_seq_len": "400",
    "enc0_token_embedding_dim": "128",
    "enc1_network": "pooled_embedding",
    "enc1_max_seq_len": "1",
    "enc1_token_embedding_dim": "128",
    "enc_dim": "128",
    "comparator_list": "hadamard, concat, abs_diff",
    "mlp_layers": "1",
    "mlp_dim": "256",
    "mlp_activation": "relu",
    "dropout": "0.2",
    "output_layer": "softmax",
    "num_classes": "2",
    "optimizer": "adam",
    "learning_rate": "0.02",
    # Pairs: 64 documents x 90 topics (see `fit_all_topics`).
    "mini_batch_size": "5760",
    "epochs": "8",
    # 18k words, a few hundred touched per batch: update only those rows.
    "token_embedding_storage_type": "row_sparse",
    "bucket_width": "20",
}
# `--document tfidf` (the field is in `hyperparameters`): one held-out run
# each, dropout 0.2 / 0.35 / 0.5 gave micro-F1 0.874 / 0.876 / 0.857.
TFIDF = {"dropout": "0.35"}


def parser():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="folder holding reuters21578/ (default "
                        "../shared/data)")
    p.add_argument("--work-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   metavar="SEED",
                   help="one whole run per seed (its held-out tenth, its "
                        "models' seeds), then the mean and spread "
                        "(default: --seed only)")
    p.add_argument("--ensemble", type=positive_int, default=5,
                   help="models trained (seeds seed, seed+1, ...) whose "
                        "probabilities are averaged (default 5)")
    p.add_argument("--average-epochs", type=positive_int, default=3,
                   help="average each model's scores over its last K "
                        "epochs (default 3; 1: the last epoch's only)")
    p.add_argument("--negatives", type=negatives_arg, default="all",
                   help="negative (document, other topic) pairs per "
                        "document: 'all' (every other topic, the default) "
                        "or a number drawn half uniformly, half by topic "
                        "frequency")
    p.add_argument("--lr-decay", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="cosine learning-rate decay to 0 (with --negatives "
                        "all)")
    p.add_argument("--min-frequency", type=int, default=2,
                   help="fewest training occurrences a word needs")
    p.add_argument("--stop-words", type=int, default=30,
                   help="drop the N words found in most training "
                        "documents (default 30)")
    p.add_argument("--title-repeat", type=int, default=1,
                   help="extra copies of the title's tokens put before "
                        "the title and body, which weights them in the "
                        "mean (default 1)")
    p.add_argument("--numbers", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="map all-digit tokens to one <num> token")
    p.add_argument("--refit", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="after the held-out documents chose the threshold, "
                        "train each model again on every training document "
                        "and test that one (the default; twice the time)")
    p.add_argument("--at-least-one", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="give a document its best-scored topic when none "
                        "passes the threshold")
    p.add_argument("--document", choices=("tfidf", "tokens"),
                   default="tfidf",
                   help="how a document enters the model: 'tfidf' (the "
                        "default), its distinct words as one weighted field "
                        "(sublinear tf-idf, unit length, summed); "
                        "'tokens', its first 400 tokens mean-pooled")
    p.add_argument("--glove", action="store_true",
                   help="initialise the token table from GloVe 6B 50d "
                        "(sets enc0_token_embedding_dim=50)")
    p.add_argument("--wide", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="also train a linear model of the tf-idf rows (a "
                        "weight per word and topic; the SVM's loss and L2, "
                        "in Keras) and average it with the ensemble, its "
                        "weight chosen on the held-out documents: wide & "
                        "deep (the default; --no-wide: the ensemble alone)")
    p.add_argument("--svm-anchor", action="store_true",
                   help="also fit a tf-idf linear SVM per topic on the same "
                        "documents and split (needs scikit-learn)")
    p.add_argument("--set", action="append", default=[],
                   metavar="NAME=VALUE", help="override a hyperparameter")
    p.add_argument("--verbose", type=int, default=2)
    return p


def positive_int(value):
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(
            f"must be an integer >= 1. Received: {value!r}")
    return n


def negatives_arg(value):
    if value == "all":
        return value
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(
            f"must be 'all' or an integer >= 0. Received: {value!r}")
    return n


# === Step 1: documents -> token ids ===


@dataclasses.dataclass
class Corpus:
    """ModApte-90 as token lists and topic labels, with the held-out split.

    `docs` holds the train documents' token lists, then the test
    documents'; `fit_idx` and `val_idx` index the train documents the models
    fit and those that choose the threshold.
    """

    docs: list
    words: list
    y_train: np.ndarray
    y_test: np.ndarray
    fit_idx: np.ndarray
    val_idx: np.ndarray
    # Token ids, cut to `enc0_max_seq_len` (`token_ids`).
    ids_train: list = None
    ids_test: list = None
    # Each document as the model reads it (`document_inputs`).
    inputs_train: list = None
    inputs_test: list = None

    @property
    def n_train(self):
        return len(self.y_train)

    @property
    def n_labels(self):
        return self.y_train.shape[1]

    def training_sets(self, refit):
        """The train documents each model fits: `"fit"`, the fitting
        documents, and with `refit` `"all"`, every train document."""
        sets = {"fit": self.fit_idx}
        if refit:
            sets["all"] = np.arange(self.n_train)
        return sets


def multi_hot(labels, index):
    y = np.zeros((len(labels), len(index)), bool)
    for i, ls in enumerate(labels):
        for name in ls:
            if name in index:
                y[i, index[name]] = True
    return y


def stop_words(token_lists, n):
    """The `n` words found in most of `token_lists` (document frequency)."""
    df = collections.Counter(w for tokens in token_lists for w in set(tokens))
    return set(sorted(df, key=lambda w: (-df[w], w))[:n])


def doc_tokens(title, text, stop, title_repeat, numbers):
    """The token list one document is encoded from."""
    tokens = [str(w) for w in title] * title_repeat + [str(w) for w in text]
    if numbers:
        tokens = [NUM if w.isdigit() else w for w in tokens]
    return [w for w in tokens if w not in stop]


def make_corpus(args, train_docs, test_docs, categories, rng):
    """Splits off the held-out documents, tokenises and builds the vocab."""
    index = {c: i for i, c in enumerate(categories)}
    y_train = multi_hot([d["labels"] for d in train_docs], index)
    y_test = multi_hot([d["labels"] for d in test_docs], index)
    # 10% of the training documents choose the threshold.
    order = rng.permutation(len(train_docs))
    n_val = len(order) // 10
    val_idx, fit_idx = order[:n_val], order[n_val:]
    # Splitting only (no vocabulary): train and test documents alike.
    every = train_docs + test_docs
    texts = tokenize([f"{d['title']}. {d['body']}" for d in every])
    titles = tokenize([d["title"] for d in every])
    stop = stop_words([texts[i] for i in fit_idx], args.stop_words)
    docs = [doc_tokens(title, text, stop, args.title_repeat, args.numbers)
            for title, text in zip(titles, texts)]
    # The vocabulary: words of the fitting documents only.
    words = build_vocab([docs[i] for i in fit_idx],
                        min_frequency=args.min_frequency)
    return Corpus(docs, words, y_train, y_test, fit_idx, val_idx)


def word_ids(corpus):
    """Every document's whole token-id list; unknown words are `<unk>`
    (id 1)."""
    word_id = {w: i for i, w in enumerate(corpus.words)}
    return [[word_id.get(w, 1) for w in d] for d in corpus.docs]


def token_ids(corpus, max_len):
    """Token-id lists (the first `max_len`) of the train and test
    documents."""
    ids = [d[:max_len] for d in word_ids(corpus)]
    return ids[:corpus.n_train], ids[corpus.n_train:]


def tfidf_rows(corpus):
    """Each document's distinct word ids and their weights: sublinear tf
    times idf (smoothed, from the fitting documents), scaled to unit length:
    the features of the SVM anchor."""
    ids = [np.array(d or [1]) for d in word_ids(corpus)]
    df = np.zeros(len(corpus.words))
    for i in corpus.fit_idx:
        df[np.unique(ids[i])] += 1
    idf = np.log((1 + len(corpus.fit_idx)) / (1 + df)) + 1
    rows = []
    for doc in ids:
        words, counts = np.unique(doc, return_counts=True)
        weights = (1 + np.log(counts)) * idf[words]
        rows.append((words.astype(np.int32),
                     (weights / np.linalg.norm(weights)).astype(np.float32)))
    return rows


def document_inputs(corpus, document):
    """Each document as a record of model inputs, train then test.

    `"tokens"`: `{"in0": token ids}`. `"tfidf"`: one constant `in0` token
    (its embedding is a learned offset shared by every document) and the
    field `words` (`tfidf_rows`), which the model sums weighted.
    """
    ids = corpus.ids_train + corpus.ids_test
    if document == "tokens":
        records = [{"in0": d} for d in ids]
    else:
        records = [{"in0": [1], "in0_words": w.tolist(),
                    "in0_words_weights": v.tolist()}
                   for w, v in tfidf_rows(corpus)]
    return records[:corpus.n_train], records[corpus.n_train:]


def hyperparameters(args, corpus):
    """The example's hyperparameters for this vocab, then `--set`."""
    hp = {**HYPERPARAMETERS, "enc0_vocab_size": str(len(corpus.words)),
          "enc1_vocab_size": str(corpus.n_labels + 1)}
    if args.document == "tfidf":
        # `in0` is one constant token; the words are the field.
        hp.update(TFIDF, enc0_vocab_size="2", enc0_max_seq_len="1",
                  enc0_fields=json.dumps([{
                      "name": "words", "vocab_size": len(corpus.words),
                      "max_seq_len": max(len(set(d)) for d in corpus.docs),
                      "weighted": True, "combiner": "sum"}]))
    if args.glove:  # files written by `training_data`
        hp.update(enc0_vocab_file="vocab.json",
                  enc0_pretrained_embedding_file="embeddings.txt",
                  enc0_freeze_pretrained_embedding="False",
                  enc0_token_embedding_dim="50")
    hp.update(parse_overrides(args.set))  # last: overrides the example's
    if resolve_hyperparameters(hp)["enc1_fields"]:
        raise ValueError("`enc1_fields` must be empty: a topic is its id "
                         "alone (`in1`). Received: enc1_fields="
                         f"{hp['enc1_fields']}")
    return hp


# === Step 2: training ===


def write_pairs(path, docs, y, negatives, rng):
    """Positives for every true topic; negatives: every other topic
    ("all") or `negatives` of them drawn without replacement. `docs` are
    `document_inputs` records."""
    n_labels = y.shape[1]
    # Half uniform, half in proportion to topic frequency: frequent topics
    # ("earn", "acq") are the likeliest false positives.
    freq = y.sum(0) + 1.0
    weight = 0.5 / n_labels + 0.5 * freq / freq.sum()
    records = []
    for doc, row in zip(docs, y):
        doc = {**doc, "in0": doc["in0"] or [1]}  # empty: one <unk>
        positive = np.flatnonzero(row)
        others = np.flatnonzero(~row)
        if negatives == "all":
            drawn = others
        elif negatives:
            w = weight[others] / weight[others].sum()
            drawn = rng.choice(others, size=min(negatives, len(others)),
                               replace=False, p=w)
        else:
            drawn = []
        records += [(doc, int(c), 1) for c in positive]
        records += [(doc, int(c), 0) for c in drawn]
    order = rng.permutation(len(records))
    with open(path, "wb") as f:
        for k in order:
            doc, c, label = records[k]
            # Topic ids start at 1: id 0 is padding for the pooled encoder.
            f.write(orjson.dumps({"label": label, **doc,
                                  "in1": [c + 1]}) + b"\n")
    return len(records)


def pad(id_lists, length):
    """`(n, length)` int32 ids, cut or padded with 0 at the end; an empty
    document becomes one `<unk>` (id 1), as in `write_pairs`."""
    return keras.utils.pad_sequences([ids[:length] or [1] for ids in id_lists],
                                     maxlen=length, padding="post",
                                     truncating="post")


def pad_inputs(docs, max_len):
    """Arrays of `document_inputs` records (or bare id lists): `in0` cut
    to `max_len` as `pad` does, fields padded with 0 to their longest."""
    docs = [d if isinstance(d, dict) else {"in0": d} for d in docs]
    out = {}
    for key in docs[0]:
        rows = [d[key] for d in docs]
        if key == "in0":
            out[key] = pad(rows, max(1, min(max_len, max(map(len, rows)))))
        else:
            out[key] = keras.utils.pad_sequences(
                rows, padding="post", dtype="float32"
                if is_weights_key(key) else "int32")
    return out


def encode(model, docs, max_len, batch_size=512):
    """`model.encode("in0", ...)` on each document once (padded per
    batch), shape (n, dim). `docs`: `document_inputs` records or id
    lists."""
    out = []
    for start in range(0, len(docs), batch_size):
        inputs = pad_inputs(docs[start:start + batch_size], max_len)
        out.append(keras.ops.convert_to_numpy(model.encode("in0", inputs)))
    return np.concatenate(out)


def encode_topics(model, n_labels, training=False):
    """Every topic's encoding, shape (n_labels, dim): `model.encode` of
    `in1` = [topic id], `enc1_activation` included."""
    topics = np.arange(1, n_labels + 1, dtype=np.int32)[:, None]
    return model.encode("in1", {"in1": topics}, training=training)


def compare(model, u, v, training=False):
    """P(label 1) for every pair of encodings `u` (documents, dim) and `v`
    (topics, dim), shape (documents, topics): `model`'s comparator, MLP and
    output layer on all `len(u) * len(v)` pairs, each encoding computed
    once instead of once per pair."""
    n, t = keras.ops.shape(u)[0], keras.ops.shape(v)[0]
    dim = keras.ops.shape(u)[-1]
    u = keras.ops.reshape(keras.ops.repeat(u[:, None], t, axis=1),
                          (-1, dim))
    v = keras.ops.reshape(keras.ops.tile(v[None], (n, 1, 1)), (-1, dim))
    dropout = model.get_layer("encoding_dropout")
    x = model.get_layer("comparator")(dropout(u, training=training),
                                      dropout(v, training=training))
    x = model.get_layer("mlp")(x, training=training)
    p = model.get_layer("output")(x)
    return keras.ops.reshape(p[:, 1], (n, t))


def score_all(model, docs, n_labels, max_len, docs_per_batch=256):
    """P(label 1) for every (document, topic) pair, shape (docs, topics).

    Each document (a `document_inputs` record or an id list) is encoded
    once and each topic once with `encoder1`; `compare` then scores the
    pairs. Equal to `model.predict` on the pairs, about 90 times less
    encoding.
    """
    model = getattr(model, "object2vec", model)
    u = encode(model, docs, max_len)
    v = encode_topics(model, n_labels)
    out = np.zeros((len(docs), n_labels), np.float32)
    for start in range(0, len(docs), docs_per_batch):
        out[start:start + docs_per_batch] = keras.ops.convert_to_numpy(
            compare(model, u[start:start + docs_per_batch], v))
    return out


class AllTopics(keras.Model):
    """An `Object2Vec` trained on documents against every topic at once.

    `call(inputs)` (padded ids, or a dict of `pad_inputs` arrays)
    encodes each document once and every topic once, then
    compares them (`compare`): P(label 1), shape (documents, topics). With
    a binary cross-entropy on multi-hot labels this is the loss of the
    (document, topic) pairs with every other topic as a negative, each
    document's encoding shared by its topics.
    """

    def __init__(self, object2vec, n_labels, **kwargs):
        super().__init__(**kwargs)
        self.object2vec = object2vec
        self.n_labels = n_labels

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict):
            inputs = {"in0": inputs}
        model = self.object2vec
        u = model.encode("in0", inputs, training=training)
        v = encode_topics(model, self.n_labels, training=training)
        return compare(self.object2vec, u, v, training=training)


def fit_all_topics(hp, x, y, *, seed, auxiliary=None, callbacks=(),
                   verbose=2, lr_decay=False):
    """Trains an `Object2Vec` on documents `x` (padded ids, or a dict of
    `pad_inputs` arrays) against every topic (`AllTopics`), multi-hot
    labels `y`; returns the `Object2Vec`.

    `mini_batch_size` counts pairs, as in `train`: a batch holds
    `mini_batch_size // topics` documents. With `lr_decay` the learning
    rate follows a cosine from `learning_rate` to 0.
    """
    keras.utils.set_random_seed(seed)
    hp = resolve_hyperparameters(hp)
    model = build_model(hp, auxiliary, seed)
    trainer = AllTopics(model, y.shape[1])
    batch = max(1, hp["mini_batch_size"] // y.shape[1])
    if lr_decay:  # cosine, from `learning_rate` to 0 at the last step
        steps = hp["epochs"] * -(-len(y) // batch)
        hp = {**hp, "learning_rate": keras.optimizers.schedules.CosineDecay(
            hp["learning_rate"], steps)}
    trainer.compile(optimizer=make_optimizer(hp),
                    loss=keras.losses.BinaryCrossentropy())
    trainer.fit(x, y.astype(np.float32), epochs=hp["epochs"],
                batch_size=batch,
                shuffle=True, callbacks=list(callbacks), verbose=verbose)
    return model


class ScoreAverage(keras.callbacks.Callback):
    """Sums `score(model)` after each of the last `k` of `epochs` epochs.

    The held-out F1 wanders by about 0.01 from one epoch to the next; the
    mean of a few epochs' probabilities (a snapshot ensemble) is steadier.
    """

    def __init__(self, score, epochs, k):
        super().__init__()
        self.score, self.first = score, epochs - k
        self.total, self.count = None, 0

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.first:
            scores = self.score(self.model)
            self.total = scores if self.total is None else tuple(
                a + b for a, b in zip(self.total, scores))
            self.count += 1

    def mean(self):
        return tuple(a / self.count for a in self.total)


# The wide model: the squared hinge and L2 of the SVM anchor (`LinearSVC`'s
# defaults, C as the anchor's held-out search picks here), trained with Adam
# along a cosine from `learning_rate`. One run each, without the refit:
# C 1 / 2 / 4 / 8 gave held-out micro-F1 0.908 / 0.911 / 0.910 / 0.906
# (test 0.886 / 0.890 / 0.885 / 0.886); 8 epochs instead of 30, test 0.876.
WIDE = {"C": 2.0, "learning_rate": 0.05, "epochs": 30, "batch_size": 64}
# Weights of the wide model's calibrated scores in the average with the
# ensemble's (`combine`); the held-out documents choose one.
WEIGHTS = np.round(np.arange(0.0, 1.01, 0.1), 1)


class Wide(keras.Model):
    """A linear model of the documents' tf-idf rows: one weight per (word,
    topic) and one bias per topic, the "wide" half of wide & deep (Cheng
    et al., 2016).

    Object2Vec scores a (document, topic) pair from one document encoding
    that all topics share; this model gives each topic a weight of its own
    for every word, as the SVM anchor does. `call` takes `pad_inputs`
    arrays of `document_inputs(corpus, "tfidf")` records and returns the
    margins, shape (documents, topics). `l2` multiplies the squared norm of
    the word weights (biases are free), added to the loss each step.
    """

    def __init__(self, vocab_size, n_labels, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.n_labels, self.l2 = vocab_size, n_labels, l2
        self.words = keras.layers.Embedding(
            vocab_size, n_labels, embeddings_initializer="zeros",
            embeddings_regularizer=keras.regularizers.L2(l2) if l2 else None,
            name="words")
        self.bias = self.add_weight(shape=(n_labels,), initializer="zeros",
                                    name="bias")

    def call(self, inputs):
        # Padding has weight 0: no mask needed.
        weights = keras.ops.cast(inputs["in0_words_weights"],
                                 self.compute_dtype)
        return keras.ops.einsum("bl,blt->bt", weights,
                                self.words(inputs["in0_words"])) + self.bias

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "n_labels": self.n_labels, "l2": self.l2}


def fit_wide(x, y, vocab_size, *, seed, verbose=2):
    """A `Wide` model trained on `pad_inputs` arrays `x` of tf-idf records
    and multi-hot labels `y` with `WIDE`'s settings.

    `SquaredHinge` averages over the topics, so `LinearSVC`'s objective
    per topic, `|w|^2 / 2 + C * sum(hinge^2)`, summed over the topics and
    divided by `C * documents * topics`, is this loss with
    `l2 = 1 / (2 * C * documents * topics)`.
    """
    keras.utils.set_random_seed(seed)
    n, topics = y.shape
    model = Wide(vocab_size, topics, l2=1.0 / (2 * WIDE["C"] * n * topics))
    steps = WIDE["epochs"] * -(-n // WIDE["batch_size"])
    model.compile(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(WIDE["learning_rate"], steps)),
        loss=keras.losses.SquaredHinge())
    model.fit(x, y.astype(np.float32), epochs=WIDE["epochs"],
              batch_size=WIDE["batch_size"], shuffle=True, verbose=verbose)
    return model


def platt(margins, y, steps=100):
    """`(a, b)` of Platt scaling, P(topic) = sigmoid(a * margin + b), by
    Newton's method on the likelihood of the pairs `(margins, y)`: what
    turns the wide model's margins into probabilities that average with
    the ensemble's. As Platt (1999), the targets are `(positives + 1) /
    (positives + 2)` and `1 / (negatives + 2)`, not 1 and 0, so that
    separable margins still give a finite slope."""
    d = np.ravel(margins).astype(np.float64)
    y = np.ravel(y).astype(bool)
    positives = y.sum()
    t = np.where(y, (positives + 1) / (positives + 2),
                 1 / (len(y) - positives + 2))
    ab = np.array([1.0, 0.0])
    for _ in range(steps):
        p = sigmoid(ab[0] * d + ab[1])
        r = p * (1 - p) + 1e-12  # saturated pairs: keep it invertible
        gradient = np.array([((p - t) * d).sum(), (p - t).sum()])
        hessian = np.array([[(r * d * d).sum(), (r * d).sum()],
                            [(r * d).sum(), r.sum()]])
        step = np.linalg.solve(hessian, gradient)
        ab -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(ab[0]), float(ab[1])


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning


def combine(p, margins, ab, weight):
    """The ensemble's probabilities `p` and the wide model's `margins`
    averaged in logits, the wide one Platt-scaled by `ab`, with `weight` on
    the wide one; probabilities."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    z = (1 - weight) * np.log(p / (1 - p)) + weight * (
        ab[0] * margins + ab[1])
    return sigmoid(z)


def best_weight(y_val, p_val, margins_val, ab, at_least_one):
    """The `WEIGHTS` value whose `combine` has the best held-out micro-F1
    (each at its own best threshold); the smallest of equals."""
    scores = [best_threshold(y_val, combine(p_val, margins_val, ab, w),
                             at_least_one)[1] for w in WEIGHTS]
    return float(WEIGHTS[int(np.argmax(scores))])


# === Step 3: evaluation ===


def f1_scores(y, pred):
    tp = (y & pred).sum(0).astype(np.float64)
    fp = (~y & pred).sum(0)
    fn = (y & ~pred).sum(0)
    micro = 2 * tp.sum() / max(1.0, 2 * tp.sum() + fp.sum() + fn.sum())
    denom = 2 * tp + fp + fn
    per = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(micro), float(per.mean())


def decide(p, threshold, at_least_one):
    """Topics whose score passes `threshold` (a number or one per topic);
    with `at_least_one`, a document with none gets its best topic."""
    pred = p >= threshold
    if at_least_one:
        none = np.flatnonzero(~pred.any(1))
        pred[none, p[none].argmax(1)] = True
    return pred


def best_threshold(y, p, at_least_one):
    """The global threshold with the best micro-F1 on (y, p)."""
    scores = [f1_scores(y, decide(p, t, at_least_one))[0] for t in GRID]
    k = int(np.argmax(scores))
    return float(GRID[k]), float(scores[k])


def evaluate(y_val, p_val, y_test, p_test, at_least_one):
    """Test micro/macro-F1 at the threshold that is best on validation."""
    threshold, val_micro = best_threshold(y_val, p_val, at_least_one)
    micro, macro = f1_scores(y_test, decide(p_test, threshold, at_least_one))
    return {"micro_f1": round(micro, 4), "macro_f1": round(macro, 4),
            "threshold": threshold, "validation_micro_f1": round(val_micro, 4)}


def svm_anchor(docs, y_train, y_test, fit_idx, val_idx, test_idx,
               at_least_one, refit):
    """The linear-SVM anchor on the same documents, split and decision rule.

    Sublinear tf-idf (vocabulary and idf from the fitting documents, as the
    models'), one `LinearSVC` per topic; C and the threshold on the decision
    value are chosen on the held-out documents. With `refit`, the SVM of
    that C is then trained on every training document, as the models are,
    and tested at that threshold (`no_refit_micro_f1`: the first one).
    """
    import scipy.sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(analyzer=list, sublinear_tf=True, min_df=2)
    x_fit = vectorizer.fit_transform([docs[i] for i in fit_idx])
    x_val = vectorizer.transform([docs[i] for i in val_idx])
    x_test = vectorizer.transform([docs[i] for i in test_idx])
    y_val = y_train[val_idx]
    grid = np.round(np.arange(-0.6, 0.31, 0.05), 2)
    best = None
    for c in (0.5, 1.0, 2.0, 4.0):
        svm = OneVsRestClassifier(LinearSVC(C=c)).fit(x_fit, y_train[fit_idx])
        d_val = svm.decision_function(x_val)
        for t in grid:
            f1 = f1_scores(y_val, decide(d_val, t, at_least_one))[0]
            if best is None or f1 > best[0]:
                best = (f1, c, t, svm)
    _, c, t, svm = best

    def tested(svm):  # (micro, macro) on the test documents at `t`
        return f1_scores(
            y_test, decide(svm.decision_function(x_test), t, at_least_one))

    figures = {"C": c, "threshold": float(t)}
    if refit:
        figures["no_refit_micro_f1"] = round(tested(svm)[0], 4)
        every = np.concatenate([fit_idx, val_idx])
        svm = OneVsRestClassifier(LinearSVC(C=c)).fit(
            scipy.sparse.vstack([x_fit, x_val]), y_train[every])
    micro, macro = tested(svm)
    return {"micro_f1": round(micro, 4), "macro_f1": round(macro, 4),
            **figures}


# === The steps, in order ===


def training_data(args, corpus, hp, work, glove, rng):
    """What the models train on, written under WORK/data.

    Returns `(sets, auxiliary)`. `sets["fit"]` is `(x, n_pairs)` for the
    fitting documents and, with `--refit`, `sets["all"]` the same for every
    training document: `x` is their padded inputs (`--negatives all`,
    trained against every topic) or the path of their (document, topic)
    pairs' JSON Lines. `auxiliary` is the folder of `vocab.json` and the
    GloVe rows with `--glove`, else None.
    """
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    sets = {}
    for name, idx in corpus.training_sets(args.refit).items():
        docs = [corpus.inputs_train[i] for i in idx]
        if args.negatives == "all":  # every pair, batched by document
            sets[name] = (pad_inputs(docs, int(hp["enc0_max_seq_len"])),
                          len(idx) * corpus.n_labels)
        else:
            path = os.path.join(data, f"train_{name}.jsonl")
            sets[name] = (path, write_pairs(path, docs, corpus.y_train[idx],
                                            args.negatives, rng))
    auxiliary = None
    if glove:
        with open(os.path.join(data, "vocab.json"), "w") as f:
            json.dump({w: i for i, w in enumerate(corpus.words)}, f)
        trim_embeddings(glove, corpus.words,
                        os.path.join(data, "embeddings.txt"))
        auxiliary = data
    return sets, auxiliary


def train_ensemble(args, corpus, hp, sets, auxiliary, work):
    """Trains `--ensemble` models on `sets["fit"]` (`training_data`) and,
    with `--refit`, each seed again on `sets["all"]`.

    Returns the members' figures, the mean held-out probabilities of the
    fitting models, the mean test probabilities of the fitting models and
    of the tested ones (the refits with `--refit`), and the epochs
    averaged.
    """
    docs_val = [corpus.inputs_train[i] for i in corpus.val_idx]
    max_len = int(hp["enc0_max_seq_len"])
    y_val = corpus.y_train[corpus.val_idx]
    labels = {"fit": corpus.y_train[corpus.fit_idx], "all": corpus.y_train}

    def score(model):
        return (score_all(model, docs_val, corpus.n_labels, max_len),
                score_all(model, corpus.inputs_test, corpus.n_labels,
                          max_len))

    def fit(name, seed):
        """(held-out, test) probabilities of a model of `seed` trained on
        `sets[name]`, averaged over its last epochs."""
        x, n_pairs = sets[name]
        # No validation channel: early stopping on the held-out loss would
        # stop after 1-2 epochs, long before F1 stops rising.
        average = ScoreAverage(score, int(hp["epochs"]),
                               min(args.average_epochs, int(hp["epochs"])))
        if args.negatives == "all":
            model = fit_all_topics(hp, x, labels[name], seed=seed,
                                   auxiliary=auxiliary, callbacks=[average],
                                   verbose=args.verbose,
                                   lr_decay=args.lr_decay)
        else:
            model = train(x, hp, auxiliary=auxiliary, seed=seed,
                          model_dir=os.path.join(work, f"{name}_seed{seed}"),
                          shuffle_buffer=n_pairs, verbose=args.verbose,
                          callbacks=[average]).model
        # A resumed run averages the epochs it ran; one resumed after its
        # last epoch has none.
        return (average.mean() if average.count else score(model),
                average.count)

    members, p_val, p_fit, p_test = [], 0.0, 0.0, 0.0
    for seed in range(args.seed, args.seed + args.ensemble):
        seed_start = time.perf_counter()
        (pv, pt), averaged = fit("fit", seed)
        member = {"seed": seed, **evaluate(y_val, pv, corpus.y_test, pt,
                                           args.at_least_one)}
        p_val, p_fit = p_val + pv, p_fit + pt
        if args.refit:
            # The held-out documents chose the threshold; now they train
            # too, for as many epochs, and the refit model is tested at the
            # fitting model's threshold.
            (_, pt), _ = fit("all", seed)
            member["refit_micro_f1"] = round(f1_scores(corpus.y_test, decide(
                pt, member["threshold"], args.at_least_one))[0], 4)
        p_test = p_test + pt
        k = len(members) + 1
        # The ensemble so far: what fewer models would have given.
        member["ensemble_micro_f1"] = evaluate(
            y_val, p_val / k, corpus.y_test, p_test / k,
            args.at_least_one)["micro_f1"]
        member["seconds"] = round(time.perf_counter() - seed_start)
        members.append(member)
        refit = (f"; refit {member['refit_micro_f1']:.4f}" if args.refit
                 else "")
        print(f"seed {seed}: micro-F1 {member['micro_f1']:.4f} / "
              f"macro-F1 {member['macro_f1']:.4f}{refit}; ensemble of {k}: "
              f"micro-F1 {member['ensemble_micro_f1']:.4f}", flush=True)
    n = args.ensemble
    return members, p_val / n, p_fit / n, p_test / n, averaged


def train_wide(args, corpus):
    """Trains the `Wide` model on the fitting documents' tf-idf rows and,
    with `--refit`, again on every training document.

    Returns its margins on the held-out documents, on the test documents
    (the fitting model's), and on the test documents of the tested model
    (the refit one with `--refit`).
    """
    if args.document == "tfidf":
        train, test = corpus.inputs_train, corpus.inputs_test
    else:
        train, test = document_inputs(corpus, "tfidf")
    x_test = pad_inputs(test, 1)  # scored by the fitting and refit models
    margins = {}
    for name, idx in corpus.training_sets(args.refit).items():
        model = fit_wide(pad_inputs([train[i] for i in idx], 1),
                         corpus.y_train[idx], len(corpus.words),
                         seed=args.seed, verbose=args.verbose)
        if name == "fit":
            margins["validation"] = model.predict(pad_inputs(
                [train[i] for i in corpus.val_idx], 1), verbose=0,
                batch_size=512)
        margins[f"test_{name}"] = model.predict(x_test, verbose=0,
                                                batch_size=512)
    return (margins["validation"], margins["test_fit"],
            margins.get("test_all", margins["test_fit"]))


def wide_and_deep(args, corpus, probabilities, margins):
    """The ensemble's probabilities averaged with the wide model's margins
    (`combine`), Platt scaling and weight fitted on the held-out documents.

    `probabilities` and `margins` are each (held-out, test of the fitting
    models, test of the tested ones), as `train_ensemble` and `train_wide`
    return them. Returns the figures of each part alone and the combined
    probabilities, in the same order.
    """
    y_val, y_test = corpus.y_train[corpus.val_idx], corpus.y_test
    ab = platt(margins[0], y_val)
    weight = best_weight(y_val, probabilities[0], margins[0], ab,
                         args.at_least_one)
    combined = tuple(combine(p, m, ab, weight)
                     for p, m in zip(probabilities, margins))

    def alone(p_val, p_fit, p_test):  # evaluate, with the no-refit figure
        figures = evaluate(y_val, p_val, y_test, p_test, args.at_least_one)
        figures["no_refit_micro_f1"] = evaluate(
            y_val, p_val, y_test, p_fit, args.at_least_one)["micro_f1"]
        return figures

    wide = {**alone(*(combine(p, m, ab, 1.0)
                      for p, m in zip(probabilities, margins))),
            "weight": weight, "platt": [round(v, 4) for v in ab],
            **{k: WIDE[k] for k in ("C", "epochs")},
            "object2vec": alone(*probabilities)}
    return wide, combined


def run(args, data, glove, work):
    """One whole run at `args.seed`: its held-out tenth, its models (seeds
    `args.seed` on), its wide model and anchor; prints its figures and
    returns them. `data` is `reuters.load_data`'s."""
    train_docs, test_docs, categories = data
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    corpus = make_corpus(args, train_docs, test_docs, categories, rng)
    hp = hyperparameters(args, corpus)
    corpus.ids_train, corpus.ids_test = token_ids(
        corpus, int(hp["enc0_max_seq_len"]))
    corpus.inputs_train, corpus.inputs_test = document_inputs(
        corpus, args.document)
    sets, auxiliary = training_data(args, corpus, hp, work, glove, rng)
    members, p_val, p_fit, p_test, averaged = train_ensemble(
        args, corpus, hp, sets, auxiliary, work)
    y_val = corpus.y_train[corpus.val_idx]
    scores = {"validation": p_val, "test": p_test, "test_no_refit": p_fit}
    wide = None
    if args.wide:
        margins = train_wide(args, corpus)
        scores.update(zip(("wide_validation", "wide_test_no_refit",
                           "wide_test"), margins))
        wide, (p_val, p_fit, p_test) = wide_and_deep(
            args, corpus, (p_val, p_fit, p_test), margins)
    with atomic_path(os.path.join(work, "scores.npz"), suffix=".npz") as tmp:
        np.savez_compressed(tmp, **scores, y_validation=y_val,
                            y_test=corpus.y_test)

    svm = None
    if args.svm_anchor:
        svm = svm_anchor(corpus.docs, corpus.y_train, corpus.y_test,
                         corpus.fit_idx, corpus.val_idx,
                         range(corpus.n_train, len(corpus.docs)),
                         args.at_least_one, args.refit)
        print(f"linear SVM on the same documents: micro-F1 "
              f"{svm['micro_f1']:.4f} / macro-F1 {svm['macro_f1']:.4f}")
    figures = {
        "test_documents": len(corpus.ids_test),
        "categories": corpus.n_labels,
        **evaluate(y_val, p_val, corpus.y_test, p_test, args.at_least_one),
        "ensemble": args.ensemble, "average_epochs": averaged,
        "members": members, "wide": wide,
        "svm_micro_f1_anchor": SVM_MICRO_F1, "svm": svm,
        "train_pairs": sets["fit"][1], "refit": args.refit,
        "vocab_size": len(corpus.words), "negatives": args.negatives,
        "document": args.document,
        "stop_words": args.stop_words, "title_repeat": args.title_repeat,
        "numbers": args.numbers,
        "at_least_one": args.at_least_one, "glove": args.glove,
        "seconds": round(time.perf_counter() - start, 1)}
    no_refit = ""
    if args.refit:  # the fitting models' own figures, for comparison
        figures["no_refit"] = evaluate(y_val, p_val, corpus.y_test, p_fit,
                                       args.at_least_one)
        no_refit = (f" (without the refit: "
                    f"{figures['no_refit']['micro_f1']:.4f})")
    parts = ""
    if wide:
        parts = (f" (the ensemble alone: {wide['object2vec']['micro_f1']:.4f},"
                 f" the wide model alone: {wide['micro_f1']:.4f}; weight "
                 f"{wide['weight']} on the wide one)")
    print(f"ModApte-90 test (n={len(corpus.ids_test)} documents, "
          f"{corpus.n_labels} topics, {args.ensemble} model(s)"
          f"{' + the wide model' if wide else ''}, threshold "
          f"{figures['threshold']:.2f} from validation micro-F1 "
          f"{figures['validation_micro_f1']:.4f}): micro-F1 "
          f"{figures['micro_f1']:.4f} / macro-F1 {figures['macro_f1']:.4f}"
          f"{no_refit}{parts}  "
          f"(linear SVM: ~{SVM_MICRO_F1} in the literature, "
          f"{SVM_HERE[args.refit]} here with --svm-anchor)  "
          f"{figures['seconds']:.0f} s", flush=True)
    return figures


def summarise(runs):
    """The mean and spread (`<name>_std`) over runs of each figure they
    report, by name."""
    series = {"micro_f1": [f["micro_f1"] for f in runs],
              "macro_f1": [f["macro_f1"] for f in runs]}
    first = runs[0]
    if "no_refit" in first:
        series["no_refit_micro_f1"] = [f["no_refit"]["micro_f1"]
                                       for f in runs]
    if first["wide"]:
        series["object2vec_micro_f1"] = [f["wide"]["object2vec"]["micro_f1"]
                                         for f in runs]
        series["wide_micro_f1"] = [f["wide"]["micro_f1"] for f in runs]
    if first["svm"]:
        series["svm_micro_f1"] = [f["svm"]["micro_f1"] for f in runs]
    summary = {}
    for name, values in series.items():
        summary[name] = float(np.mean(values))
        summary[f"{name}_std"] = float(np.std(values))
    return summary


def main():
    p = parser()
    args = p.parse_args()
    try:
        data = reuters.load_data(args.data_dir)
        glove = glove_file(args.data_dir) if args.glove else None
    except FileNotFoundError as e:
        p.error(str(e))
    if args.glove and args.document != "tokens":
        p.error("--glove initialises the token table of --document tokens")
    if args.svm_anchor and importlib.util.find_spec("sklearn") is None:
        p.error("--svm-anchor needs scikit-learn: pip install scikit-learn")
    work = args.work_dir or os.path.join("runs", "reuters")
    seeds = args.seeds or [args.seed]
    runs = []
    for seed in seeds:  # each a whole run: its held-out tenth, its models
        runs.append(run(argparse.Namespace(**{**vars(args), "seed": seed}),
                        data, glove, work if len(seeds) == 1
                        else os.path.join(work, f"seed{seed}")))
    if len(seeds) == 1:
        print(json.dumps({"example": "reuters", **runs[0]}))
        return
    # Several seeds: the figures' means, their spread and each run.
    summary = summarise(runs)
    parts = "; ".join(
        f"{label} {summary[key]:.4f}" for key, label in (
            ("no_refit_micro_f1", "without the refit"),
            ("object2vec_micro_f1", "the ensemble alone"),
            ("wide_micro_f1", "the wide model alone"),
            ("svm_micro_f1", "linear SVM")) if key in summary)
    micro = [f["micro_f1"] for f in runs]
    print(f"ModApte-90 test micro-F1 over seeds {seeds}: mean "
          f"{summary['micro_f1']:.4f} +- {summary['micro_f1_std']:.4f} "
          f"(std), range {min(micro):.4f}-{max(micro):.4f}"
          f"{' (means: ' + parts + ')' if parts else ''}  (goal >= 0.890)")
    print(json.dumps({"example": "reuters", "seeds": seeds, **summary,
                      "seconds": sum(f["seconds"] for f in runs),
                      "runs": runs}))


if __name__ == "__main__":
    main()
