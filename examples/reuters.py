"""Reuters-21578 ModApte-90 with keras_o2v: multi-label documents as pairs.

As SageMaker's genre-classification notebook does, each document becomes
(document, label) pairs: `in0` = the document's token ids, `in1` = [topic
id], label 1 for each of the document's topics and 0 for negatives: by
default every other topic (`--negatives all`, 90 pairs per document), or a
number of them drawn half uniformly and half in proportion to topic
frequency. (keras_o2v's `negative_sampling_rate` pairs with other records'
`in1`, fully in proportion to frequency: rare topics would almost never be
negatives.)

Documents are title + body, the title's tokens once more in front
(`--title-repeat`), tokenised with `keras_o2v.data.prepare`; the
`--stop-words` words found in most training documents are dropped and
all-digit tokens become one `<num>` token; the vocabulary comes from the
training documents only.

A pooled-embedding model with a 2-class softmax output is trained for a
fixed number of epochs. With `--negatives all` every (document, topic) pair
is a training pair, so the example trains document by document
(`AllTopics`): each step encodes its documents once with `encoder0` and the
90 topics once with `encoder1`, then runs the comparator, MLP and output
layer on all their pairs, with a binary cross-entropy on the multi-hot
labels: the pairs' loss, without encoding each document 90 times. With a
number of negatives the pairs are written to JSON Lines and trained with
`keras_o2v.training.train`. `mini_batch_size` counts pairs either way (5760
= 64 documents); the learning rate decays along a cosine (`--lr-decay`).
10% of the training documents are held out, not for early stopping (their
loss is lowest after 1-2 epochs, while their F1 still rises) but to choose
one global probability threshold (best micro-F1 over every (document,
topic) pair). A document with no topic over the threshold gets its
best-scored one: every ModApte document has a topic. `--average-epochs K`
averages each model's probabilities over its last K epochs (a snapshot
ensemble); `--ensemble N` trains N models (seeds `seed` .. `seed + N - 1`)
and averages their probabilities before the threshold is chosen.

Scoring (`score_all`) also encodes each document and each topic once, then
compares every pair (`compare`); it equals `model.predict` on the pairs
(`score_pairs`), 10 times faster. Micro- and macro-F1 over the 90 topics
are reported on the ModApte test split, for each model and for the
ensemble. `--glove` initialises the token table from GloVe 6B 50d through
the auxiliary channel.

Anchor: a linear SVM on tf-idf reaches micro-F1 about 0.87 on ModApte-90 in
the literature (Joachims 1998; Yang & Liu 1999: 0.860). `--svm-anchor` fits
one (sublinear tf-idf, C and threshold chosen on the held-out documents) on
these very documents: 0.888.

Measured with the defaults (5 models, 2 shared CPU cores, 10 min with the
SVM anchor; single models 95-135 s): micro-F1 0.877, macro-F1 0.496;
single models 0.872 / 0.870 / 0.869 / 0.872 / 0.868. Short of the SVM.
(Before: every pair through `keras_o2v.training.train` and
`model.predict`, 3 models in about 60 min: 0.873 / 0.483.)

    python examples/reuters.py --data-dir ../shared/data
"""

import argparse
import collections
import html
import importlib.util
import json
import os
import time

import keras
import numpy as np
import orjson

from keras_o2v.atomic import atomic_path
from keras_o2v.data.prepare import build_vocab, tokenize, trim_embeddings
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.models.object2vec import make_optimizer
from keras_o2v.training import train
from keras_o2v.training.train import build_model
from movielens import default_data_dir

FOLDER = "reuters21578"
GLOVE = os.path.join("glove", "glove.6B.50d.top100k.txt")
SVM_MICRO_F1 = 0.87
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


def parser():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="folder holding reuters21578/ (default "
                        "../shared/data)")
    p.add_argument("--work-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--at-least-one", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="give a document its best-scored topic when none "
                        "passes the threshold")
    p.add_argument("--glove", action="store_true",
                   help="initialise the token table from GloVe 6B 50d "
                        "(sets enc0_token_embedding_dim=50)")
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


def read_docs(path):
    """Titles, title + body texts and topic lists of a JSONL file."""
    with open(path, "rb") as f:
        rows = [orjson.loads(line) for line in f if line.strip()]
    titles = [html.unescape(r.get("title", "")) for r in rows]
    texts = [html.unescape(f"{r.get('title', '')}. {r.get('body', '')}")
             for r in rows]
    return titles, texts, [r["labels"] for r in rows]


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


def write_pairs(path, ids, y, negatives, rng):
    """Positives for every true topic; negatives: every other topic
    ("all") or `negatives` of them drawn without replacement."""
    n_labels = y.shape[1]
    # Half uniform, half in proportion to topic frequency: frequent topics
    # ("earn", "acq") are the likeliest false positives.
    freq = y.sum(0) + 1.0
    weight = 0.5 / n_labels + 0.5 * freq / freq.sum()
    records = []
    for doc, row in zip(ids, y):
        doc = doc or [1]  # empty after tokenisation: one <unk>
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
            f.write(orjson.dumps({"label": label, "in0": doc,
                                  "in1": [c + 1]}) + b"\n")
    assert n_labels > 0
    return len(records)


def padded(lists, length):
    out = np.zeros((len(lists), length), np.int32)
    for i, ids in enumerate(lists):
        ids = ids[:length] or [1]
        out[i, :len(ids)] = ids
    return out


def encode(encoder, ids, max_len, batch_size=512):
    """`encoder` on each id list once (padded per batch), shape (n, dim)."""
    out = []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        length = max(1, min(max_len, max(len(d) for d in chunk)))
        out.append(keras.ops.convert_to_numpy(
            encoder(padded(chunk, length))))
    return np.concatenate(out)


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


def score_all(model, ids, n_labels, max_len, docs_per_batch=256):
    """P(label 1) for every (document, topic) pair, shape (docs, topics).

    Each document is encoded once with `encoder0` and each topic once with
    `encoder1`; `compare` then scores the pairs. Equal to `model.predict`
    on the pairs, about 90 times less encoding.
    """
    model = getattr(model, "object2vec", model)
    u = encode(model.encoder0, ids, max_len)
    v = model.encoder1(np.arange(1, n_labels + 1, dtype=np.int32)[:, None])
    out = np.zeros((len(ids), n_labels), np.float32)
    for start in range(0, len(ids), docs_per_batch):
        out[start:start + docs_per_batch] = keras.ops.convert_to_numpy(
            compare(model, u[start:start + docs_per_batch], v))
    return out


def score_pairs(model, ids, n_labels, max_len, docs_per_batch=256):
    """`score_all` the slow way: `model.predict` on every (document, topic)
    pair, each document encoded once per topic."""
    topics = np.arange(1, n_labels + 1, dtype=np.int32)
    out = np.zeros((len(ids), n_labels), np.float32)
    for start in range(0, len(ids), docs_per_batch):
        chunk = ids[start:start + docs_per_batch]
        length = max(1, min(max_len, max(len(d) for d in chunk)))
        in0 = np.repeat(padded(chunk, length), n_labels, axis=0)
        in1 = np.tile(topics, len(chunk))[:, None]
        p = model.predict({"in0": in0, "in1": in1}, batch_size=4096,
                          verbose=0)
        out[start:start + len(chunk)] = p[:, 1].reshape(len(chunk), n_labels)
    return out


class AllTopics(keras.Model):
    """An `Object2Vec` trained on documents against every topic at once.

    `call(in0)` encodes each document once and every topic once, then
    compares them (`compare`): P(label 1), shape (documents, topics). With
    a binary cross-entropy on multi-hot labels this is the loss of the
    (document, topic) pairs with every other topic as a negative, each
    document's encoding shared by its topics.
    """

    def __init__(self, object2vec, n_labels, **kwargs):
        super().__init__(**kwargs)
        self.object2vec = object2vec
        self.topics = np.arange(1, n_labels + 1, dtype=np.int32)[:, None]

    def call(self, in0, training=False):
        u = self.object2vec.encoder0(in0)
        v = self.object2vec.encoder1(self.topics)
        return compare(self.object2vec, u, v, training=training)


def fit_all_topics(hp, x, y, *, seed, auxiliary=None, callbacks=(),
                   verbose=2, lr_decay=False):
    """Trains an `Object2Vec` on documents `x` (padded ids) against every
    topic (`AllTopics`), multi-hot labels `y`; returns the `Object2Vec`.

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
        steps = hp["epochs"] * -(-len(x) // batch)
        hp = {**hp, "learning_rate": keras.optimizers.schedules.CosineDecay(
            hp["learning_rate"], steps)}
    trainer.compile(optimizer=make_optimizer(hp),
                    loss=keras.losses.BinaryCrossentropy())
    trainer.fit(x, y.astype(np.float32), epochs=hp["epochs"],
                batch_size=batch,
                shuffle=True, callbacks=list(callbacks), verbose=verbose)
    return model


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


def svm_anchor(docs, y_fit, y_val, y_test, fit_idx, val_idx, test_idx,
               at_least_one):
    """The linear-SVM anchor on the same documents, split and decision rule.

    Sublinear tf-idf, one `LinearSVC` per topic; C and the threshold on the
    decision value are chosen on the held-out documents.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(analyzer=list, sublinear_tf=True, min_df=2)
    x_fit = vectorizer.fit_transform([docs[i] for i in fit_idx])
    x_val = vectorizer.transform([docs[i] for i in val_idx])
    x_test = vectorizer.transform([docs[i] for i in test_idx])
    grid = np.round(np.arange(-0.6, 0.31, 0.05), 2)
    best = None
    for c in (0.5, 1.0, 2.0, 4.0):
        svm = OneVsRestClassifier(LinearSVC(C=c)).fit(x_fit, y_fit)
        d_val = svm.decision_function(x_val)
        for t in grid:
            f1 = f1_scores(y_val, decide(d_val, t, at_least_one))[0]
            if best is None or f1 > best[0]:
                best = (f1, c, t, svm)
    _, c, t, svm = best
    micro, macro = f1_scores(
        y_test, decide(svm.decision_function(x_test), t, at_least_one))
    return {"micro_f1": round(micro, 4), "macro_f1": round(macro, 4),
            "C": c, "threshold": float(t)}


def evaluate(y_val, p_val, y_test, p_test, at_least_one):
    """Test micro/macro-F1 at the threshold that is best on validation."""
    threshold, val_micro = best_threshold(y_val, p_val, at_least_one)
    micro, macro = f1_scores(y_test, decide(p_test, threshold, at_least_one))
    return {"micro_f1": round(micro, 4), "macro_f1": round(macro, 4),
            "threshold": threshold, "validation_micro_f1": round(val_micro, 4)}


def main():
    p = parser()
    args = p.parse_args()
    folder = os.path.join(args.data_dir, FOLDER)
    needed = [os.path.join(folder, f"modapte90_{s}.jsonl")
              for s in ("train", "test")]
    needed.append(os.path.join(folder, "modapte90_categories.txt"))
    if args.glove:
        needed.append(os.path.join(args.data_dir, GLOVE))
    missing = [x for x in needed if not os.path.exists(x)]
    if missing:
        p.error(f"missing under --data-dir {args.data_dir!r}: {missing}")
    if args.svm_anchor and importlib.util.find_spec("sklearn") is None:
        p.error("--svm-anchor needs scikit-learn: pip install scikit-learn")
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    with open(needed[2]) as f:
        categories = [line.strip() for line in f if line.strip()]
    index = {c: i for i, c in enumerate(categories)}
    n_labels = len(categories)
    train_titles, train_texts, train_labels = read_docs(needed[0])
    test_titles, test_texts, test_labels = read_docs(needed[1])
    y_all = multi_hot(train_labels, index)
    y_test = multi_hot(test_labels, index)

    # 10% of the training documents choose the threshold.
    order = rng.permutation(len(train_texts))
    n_val = len(order) // 10
    val_idx, fit_idx = order[:n_val], order[n_val:]

    # Splitting only (no vocabulary): train and test documents alike.
    n_train = len(train_texts)
    texts = tokenize(train_texts + test_texts)
    titles = tokenize(train_titles + test_titles)
    stop = stop_words([texts[i] for i in fit_idx], args.stop_words)
    docs = [doc_tokens(title, text, stop, args.title_repeat, args.numbers)
            for title, text in zip(titles, texts)]
    # The vocabulary: words of the fitting documents only.
    words = build_vocab([docs[i] for i in fit_idx],
                        min_frequency=args.min_frequency)
    hp = {**HYPERPARAMETERS, "enc0_vocab_size": str(len(words)),
          "enc1_vocab_size": str(n_labels + 1)}
    if args.glove:  # files written below, once the work dir exists
        hp.update(enc0_vocab_file="vocab.json",
                  enc0_pretrained_embedding_file="embeddings.txt",
                  enc0_freeze_pretrained_embedding="False",
                  enc0_token_embedding_dim="50")
    for item in args.set:  # last: `--set` overrides the example's values
        name, _, value = item.partition("=")
        hp[name] = value
    max_len = int(hp["enc0_max_seq_len"])
    word_id = {w: i for i, w in enumerate(words)}
    ids = [[word_id.get(w, 1) for w in d][:max_len] for d in docs]
    ids_all, ids_test = ids[:n_train], ids[n_train:]
    ids_val = [ids_all[i] for i in val_idx]

    work = args.work_dir or os.path.join("runs", "reuters")
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    train_path = os.path.join(data, "train.jsonl")
    if args.negatives == "all":  # every pair, batched by document
        x_fit = padded([ids_all[i] for i in fit_idx], max_len)
        n_pairs = len(fit_idx) * n_labels
    else:
        n_pairs = write_pairs(train_path, [ids_all[i] for i in fit_idx],
                              y_all[fit_idx], args.negatives, rng)
    auxiliary = None
    if args.glove:
        with open(os.path.join(data, "vocab.json"), "w") as f:
            json.dump(word_id, f)
        trim_embeddings(os.path.join(args.data_dir, GLOVE), words,
                        os.path.join(data, "embeddings.txt"))
        auxiliary = data

    def score(model):
        return (score_all(model, ids_val, n_labels, max_len),
                score_all(model, ids_test, n_labels, max_len))

    y_val = y_all[val_idx]
    members, p_val, p_test = [], 0.0, 0.0
    for seed in range(args.seed, args.seed + args.ensemble):
        seed_start = time.perf_counter()
        # No validation channel: early stopping on the held-out loss would
        # stop after 1-2 epochs, long before F1 stops rising.
        average = ScoreAverage(score, int(hp["epochs"]),
                               min(args.average_epochs, int(hp["epochs"])))
        if args.negatives == "all":
            model = fit_all_topics(hp, x_fit, y_all[fit_idx], seed=seed,
                                   auxiliary=auxiliary, callbacks=[average],
                                   verbose=args.verbose,
                                   lr_decay=args.lr_decay)
        else:
            model = train(train_path, hp, auxiliary=auxiliary, seed=seed,
                          model_dir=os.path.join(work, f"model_seed{seed}"),
                          shuffle_buffer=n_pairs, verbose=args.verbose,
                          callbacks=[average]).model
        # A resumed run averages the epochs it ran; one resumed after its
        # last epoch has none.
        pv, pt = average.mean() if average.count else score(model)
        members.append({"seed": seed, **evaluate(y_val, pv, y_test, pt,
                                                 args.at_least_one),
                        "seconds": round(time.perf_counter() - seed_start)})
        print(f"seed {seed}: micro-F1 {members[-1]['micro_f1']:.4f} / "
              f"macro-F1 {members[-1]['macro_f1']:.4f}", flush=True)
        p_val, p_test = p_val + pv, p_test + pt
    p_val, p_test = p_val / args.ensemble, p_test / args.ensemble
    with atomic_path(os.path.join(work, "scores.npz"), suffix=".npz") as tmp:
        np.savez_compressed(tmp, validation=p_val, test=p_test,
                            y_validation=y_val, y_test=y_test)

    svm = None
    if args.svm_anchor:
        svm = svm_anchor(docs, y_all[fit_idx], y_val, y_test, fit_idx,
                         val_idx, range(n_train, len(docs)),
                         args.at_least_one)
        print(f"linear SVM on the same documents: micro-F1 "
              f"{svm['micro_f1']:.4f} / macro-F1 {svm['macro_f1']:.4f}")
    figures = {
        "test_documents": len(ids_test), "categories": n_labels,
        **evaluate(y_val, p_val, y_test, p_test, args.at_least_one),
        "ensemble": args.ensemble, "average_epochs": average.count,
        "members": members,
        "svm_micro_f1_anchor": SVM_MICRO_F1, "svm": svm,
        "train_pairs": n_pairs,
        "vocab_size": len(words), "negatives": args.negatives,
        "stop_words": args.stop_words, "title_repeat": args.title_repeat,
        "numbers": args.numbers,
        "at_least_one": args.at_least_one, "glove": args.glove,
        "seconds": round(time.perf_counter() - start, 1)}
    print(f"ModApte-90 test (n={len(ids_test)} documents, {n_labels} topics,"
          f" {args.ensemble} model(s), threshold {figures['threshold']:.2f} "
          f"from validation micro-F1 {figures['validation_micro_f1']:.4f}): "
          f"micro-F1 {figures['micro_f1']:.4f} / macro-F1 "
          f"{figures['macro_f1']:.4f}  (linear SVM micro-F1 ~{SVM_MICRO_F1};"
          f" goal >= 0.87)  {figures['seconds']:.0f} s")
    print(json.dumps({"example": "reuters", **figures}))


if __name__ == "__main__":
    main()
