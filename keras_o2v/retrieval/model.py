"""A two-tower retrieval model trained with the in-batch softmax.

Object2Vec's encoders (built from the same SageMaker-named hyperparameters by
`make_encoders`) without its comparator and MLP: a pair is scored by the
cosine or dot product of the two encodings, so item vectors can go straight
into an `EmbeddingIndex`. Training needs positive pairs only; the negatives
are the batch's other `in1` (see `losses.py`). The SageMaker-compatible
`Object2Vec` and its losses are untouched: this is a separate model.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_o2v.api_export import register
from keras_o2v.hyperparameters import is_weights_key
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.models.object2vec import encode_side
from keras_o2v.models.object2vec import jit_compile_for
from keras_o2v.models.object2vec import make_encoders
from keras_o2v.models.object2vec import make_field_encoders
from keras_o2v.models.object2vec import make_optimizer
from keras_o2v.retrieval.losses import accidental_hits
from keras_o2v.retrieval.losses import check_similarity
from keras_o2v.retrieval.losses import check_temperature
from keras_o2v.retrieval.losses import in_batch_softmax_loss
from keras_o2v.retrieval.losses import similarity_matrix
from keras_o2v.retrieval.metrics import HitsAtK

SAMPLING_PROBABILITY = "sampling_probability"


@register
class RetrievalModel(keras.Model):
    """Two encoders scored by cosine/dot, trained with in-batch softmax.

    Called on `{"in0": (B, T0), "in1": (B, T1)}` ids it returns the `(B, B)`
    score matrix of every `in0` against every `in1` of the batch; the layers
    `encoder0` and `encoder1` embed each side (so `keras_o2v.embed` works).

    Args:
        hyperparameters: dict. SageMaker-named hyperparameters for the
            encoders (`enc0_*`, `enc1_*`, `enc_dim`, `dropout`,
            `embedding_l2`, `tied_token_embedding_weight`,
            `tied_encoder_weights`, `optimizer`, `learning_rate`...); the
            comparator, MLP and output settings are not used.
        similarity: `"cosine"` or `"dot"`. Defaults to `"cosine"`.
        temperature: float. Logits are `scores / temperature`; cosine needs
            a small one (0.05-0.2). Defaults to 0.1.
        remove_accidental_hits: bool. Mask a batch's duplicate candidates.
            Defaults to True.
        logq_correction: bool. Subtract `log q` of each candidate from its
            logit; the data then needs a `"sampling_probability"` feature
            (see `sampling_probabilities`). Defaults to False.
        batch_metrics_k: ints. In-batch `batch_hits_at_k` metrics, ranked
            in evaluation (`evaluate`, `fit`'s `validation_data`). Defaults
            to `(10,)`.
        train_metrics: bool. Rank them at every training step too; for
            small encoders that costs most of the step. Defaults to False.
    """

    def __init__(self, hyperparameters, similarity="cosine", temperature=0.1,
                 remove_accidental_hits=True, logq_correction=False,
                 batch_metrics_k=(10,), train_metrics=False, **kwargs):
        check_similarity(similarity)
        check_temperature(temperature)
        kwargs.setdefault("name", "retrieval")
        super().__init__(**kwargs)
        hp = resolve_hyperparameters(hyperparameters)
        self.hyperparameters = hp
        self.similarity = similarity
        self.temperature = temperature
        self.remove_accidental_hits = remove_accidental_hits
        self.logq_correction = logq_correction
        for name in ("enc0_id_bias", "enc1_id_bias"):
            if hp[name]:
                raise ValueError(
                    f"A retrieval model ranks by similarity and has no "
                    f"regression output, so `{name}` must be False. "
                    f"Received: {name}=True")
        self.encoder0, self.encoder1 = make_encoders(hp)
        # Extra fields of feature-rich objects, added to each tower's
        # encoding (a user tower reading the user's history, ...).
        encoders = (self.encoder0, self.encoder1)
        self.fields0 = make_field_encoders(hp, "in0", encoders=encoders)
        self.fields1 = make_field_encoders(
            hp, "in1", self.fields0 if hp["tied_encoder_weights"] else None,
            encoders=encoders)
        self.encoding_dropout = keras.layers.Dropout(
            hp["dropout"], name="encoding_dropout")
        self.batch_metrics_k = tuple(int(k) for k in batch_metrics_k)
        self.batch_metrics = [HitsAtK(k, name=f"batch_hits_at_{k}")
                              for k in self.batch_metrics_k]
        # Ranking a batch's B x B scores costs more than the rest of a
        # training step; by default they are ranked in evaluation only
        # (`validation_data` at epoch end, `evaluate`).
        self.train_metrics = bool(train_metrics)
        self._training_trace = False
        # Weights exist from construction, so `.keras` loading and
        # `load_weights` need no sample batch.
        self.encoder0.build((None, None))
        if self.encoder1 is not self.encoder0:  # tied: one layer, built
            self.encoder1.build((None, None))
        for layer in (*self.fields0.values(), *self.fields1.values()):
            layer.build(None)
        self.built = True

    def _tower(self, side, inputs, training=False):
        encoder, fields = ((self.encoder0, self.fields0) if side == "in0"
                           else (self.encoder1, self.fields1))
        return encode_side(encoder, fields, inputs, side,
                           self.hyperparameters[f"enc{side[-1]}_activation"],
                           training=training)

    def call(self, inputs, training=False):
        query = self.encoding_dropout(self._tower("in0", inputs, training),
                                      training=training)
        candidates = self.encoding_dropout(
            self._tower("in1", inputs, training), training=training)
        return similarity_matrix(query, candidates, self.similarity)

    def _log_q(self, x):
        if not self.logq_correction:
            return None
        if SAMPLING_PROBABILITY not in x:
            raise ValueError(
                f"`logq_correction=True` needs a `{SAMPLING_PROBABILITY}` "
                "feature in each batch (see `sampling_probabilities`). "
                f"Received: features {sorted(x)}")
        return ops.log(ops.maximum(
            ops.cast(x[SAMPLING_PROBABILITY], "float32"), 1e-12))

    def encode(self, side, inputs, training=False):
        """Embeddings of one side (`"in0"` or `"in1"`) of `inputs`, in
        inference mode unless `training` (the interface of
        `Object2Vec.encode`)."""
        return self._tower(side, inputs, training)

    def pair_scores(self, inputs):
        """`(B, 1)` similarity of each pair `(in0[i], in1[i])`."""
        query = self._tower("in0", inputs)
        candidate = self._tower("in1", inputs)
        if self.similarity == "cosine":
            query = ops.normalize(query, axis=-1)
            candidate = ops.normalize(candidate, axis=-1)
        return ops.sum(query * candidate, axis=-1, keepdims=True)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        # Keras calls compute_metrics right after, in the same trace.
        self._training_trace = training
        ids = x["in1"] if self.remove_accidental_hits else None
        losses = in_batch_softmax_loss(y_pred, ids, self._log_q(x),
                                       self.temperature)
        if sample_weight is not None:
            weight = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
            loss = ops.sum(losses * weight) / ops.maximum(ops.sum(weight),
                                                          1e-12)
        else:
            loss = ops.mean(losses)
        if self.losses:  # embedding_l2 and other layer penalties
            loss = loss + ops.sum(ops.stack(self.losses))
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self._training_trace and not self.train_metrics:
            return {m.name: m.result() for m in self.metrics
                    if not any(m is b for b in self.batch_metrics)}
        # Ranking metrics within the batch: query i should rank its own
        # candidate i first among the batch's candidates.
        scores = y_pred
        if self.remove_accidental_hits:
            scores = ops.where(accidental_hits(x["in1"]), -np.inf, scores)
        labels = ops.eye(ops.shape(scores)[0])
        for metric in self.batch_metrics:
            metric.update_state(labels, scores)
        return self.get_metrics_result()

    def get_config(self):
        return {"name": self.name,
                "hyperparameters": dict(self.hyperparameters),
                "similarity": self.similarity,
                "temperature": self.temperature,
                "remove_accidental_hits": self.remove_accidental_hits,
                "logq_correction": self.logq_correction,
                "batch_metrics_k": list(self.batch_metrics_k),
                "train_metrics": self.train_metrics}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_retrieval_model(hyperparameters=None, *, similarity="cosine",
                          temperature=0.1, remove_accidental_hits=True,
                          logq_correction=False, batch_metrics_k=(10,),
                          train_metrics=False, compile=True, **kwargs):
    """Builds (and by default compiles) a `RetrievalModel`.

    The optimizer and learning rate come from the hyperparameters
    (`optimizer`, `learning_rate`, `weight_decay`), as for Object2Vec.
    Compiled, evaluation (`evaluate`, and `fit`'s `validation_data` at
    each epoch end: `val_batch_hits_at_k`) reports in-batch `hits_at_k`
    for each k of `batch_metrics_k` beside the loss; with
    `train_metrics=True` every training step computes them too, at a cost
    of most of the step's time for small encoders.

    Example:

    ```python
    from keras_o2v.retrieval import build_retrieval_model
    from keras_o2v.retrieval import retrieval_dataset
    from keras_o2v.retrieval import sampling_probabilities

    # (user id, item id) of observed interactions, e.g. MovieLens ratings.
    users = np.random.randint(1, 944, size=(2048, 1))
    items = np.random.randint(1, 1683, size=(2048, 1))
    model = build_retrieval_model(
        enc0_network="pooled_embedding", enc0_vocab_size=944,
        enc0_max_seq_len=1, enc1_network="pooled_embedding",
        enc1_vocab_size=1683, enc1_max_seq_len=1, enc_dim=64,
        temperature=0.05, logq_correction=True)
    model.fit(retrieval_dataset(users, items, 256,
                                sampling_probabilities(items)), epochs=1)
    ```
    """
    merged = {**(hyperparameters or {}), **kwargs}
    model = RetrievalModel(merged, similarity=similarity,
                           temperature=temperature,
                           remove_accidental_hits=remove_accidental_hits,
                           logq_correction=logq_correction,
                           batch_metrics_k=batch_metrics_k,
                           train_metrics=train_metrics)
    if compile:
        model.compile(optimizer=make_optimizer(model.hyperparameters),
                      jit_compile=jit_compile_for(model.hyperparameters))
    return model


def sampling_probabilities(in1):
    """Per-example frequency of its `in1` in the data: the logQ estimate.

    Args:
        in1: int array `(n,)` or `(n, T)` (padded ids, compared whole).

    Returns:
        float32 `(n,)`: count of the example's candidate / n.
    """
    in1 = np.asarray(in1)
    rows = in1.reshape(len(in1), -1)
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True,
                                   return_counts=True)
    return (counts[inverse.reshape(-1)] / len(in1)).astype(np.float32)


def retrieval_dataset(in0, in1, batch_size, sampling_probability=None,
                      shuffle=True, seed=None, drop_remainder=True,
                      fields=None):
    """`tf.data` of positive pairs from padded id arrays.

    Args:
        in0, in1: int arrays `(n, T0)` and `(n, T1)`, padded with 0.
        batch_size: int. Pairs per batch = candidates per softmax.
        sampling_probability: optional float `(n,)`, the logQ feature.
        shuffle: bool. Reshuffle every epoch. Defaults to True.
        seed: optional int for the shuffle.
        drop_remainder: bool. Keep every softmax the same size. Defaults
            to True.
        fields: optional dict record key (`"in0_history"`) -> padded array
            `(n, T)` of the extra fields (int32 ids, float32 weights).
    """
    features = {"in0": np.asarray(in0, np.int32),
                "in1": np.asarray(in1, np.int32)}
    for key, values in (fields or {}).items():
        features[key] = np.asarray(values, np.float32 if is_weights_key(key)
                                     else np.int32)
    if sampling_probability is not None:
        features[SAMPLING_PROBABILITY] = np.asarray(sampling_probability,
                                                    np.float32)
    ds = tf.data.Dataset.from_tensor_slices(features)
    if shuffle:
        ds = ds.shuffle(len(features["in0"]), seed=seed,
                        reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(2)


def candidate_frequencies(dataset, vocab_size):
    """Counts of each `in1` id among the positives of a labelled dataset.

    The logQ estimate of `positive_batches` for single-token `in1`:
    one pass over `(features, labels)` batches (labels != 0 are positives).

    Args:
        dataset: iterable of `({"in0", "in1"}, labels)` batches.
        vocab_size: int. `enc1_vocab_size`.

    Returns:
        float32 `(vocab_size,)`: the share of positives holding each id.
    """
    counts = np.zeros(vocab_size, np.int64)
    for x, labels in dataset:
        in1 = np.asarray(x["in1"])
        if in1.shape[1] != 1:
            raise ValueError(
                "`logq_correction` estimates each candidate's frequency by "
                "its id, so `in1` must be one token per record. Received: "
                f"`in1` rows of up to {in1.shape[1]} tokens; train without "
                "`logq_correction`.")
        positive = np.asarray(labels).reshape(len(in1), -1)[:, 0] != 0
        counts += np.bincount(in1[positive, 0], minlength=vocab_size)
    return (counts / max(counts.sum(), 1)).astype(np.float32)


def positive_batches(dataset, frequencies=None):
    """Labelled `(features, labels)` batches as in-batch softmax batches.

    Keeps each batch's positives (label != 0): the other candidates of a
    batch are its negatives. With `frequencies` (see
    `candidate_frequencies`) each pair gets its `sampling_probability`.
    Batches without a positive are dropped.
    """
    table = (None if frequencies is None else
             tf.constant(frequencies, tf.float32))

    def keep(x, labels):
        positive = tf.reshape(labels, [tf.shape(x["in0"])[0], -1])[:, 0] != 0
        # Every input: the ids and any extra fields of the towers.
        out = {key: tf.boolean_mask(value, positive)
               for key, value in x.items()}
        if table is not None:
            out[SAMPLING_PROBABILITY] = tf.gather(table, out["in1"][:, 0])
        return out

    return dataset.map(keep).filter(
        lambda x: tf.shape(x["in0"])[0] > 0)
