"""In-batch softmax: each `in0` against every `in1` of its batch.

The positive of row `i` is candidate `i`; the other candidates of the batch
are its negatives, as in TF Recommenders' `Retrieval` task and keras-rs. Two
corrections, both optional:

* accidental hits: when candidate `j != i` is the same object as candidate
  `i` (same ids, e.g. two users who liked one movie in one batch), it is not
  a negative for row `i`; its logit is masked out.
* logQ: in-batch negatives are drawn in proportion to how often a candidate
  occurs in the data, so popular items are over-penalised. Subtracting
  `log q_j` (q = sampling probability of candidate j) from the logits makes
  the softmax an estimate of the full softmax (Yi et al. 2019, "Sampling-
  bias-corrected neural modeling for large corpus item recommendations").
"""

import keras
from keras import ops

from keras_o2v.api_export import register

SIMILARITIES = ("cosine", "dot")
# Added to masked logits: exp() of it is 0 in float32 without inf - inf.
_MASKED_LOGIT = -1e9


def check_similarity(similarity):
    if similarity not in SIMILARITIES:
        raise ValueError(f"`similarity` must be one of {list(SIMILARITIES)}. "
                         f"Received: similarity={similarity!r}")


def check_temperature(temperature):
    if isinstance(temperature, bool) or not isinstance(
            temperature, (int, float)) or not temperature > 0:
        raise ValueError("`temperature` must be a positive number. "
                         f"Received: temperature={temperature!r}")


def similarity_matrix(query, candidates, similarity="cosine"):
    """`(B, B')` scores of every query against every candidate."""
    check_similarity(similarity)
    if similarity == "cosine":
        query = query / ops.maximum(
            ops.norm(query, axis=-1, keepdims=True), 1e-12)
        candidates = candidates / ops.maximum(
            ops.norm(candidates, axis=-1, keepdims=True), 1e-12)
    return ops.matmul(query, ops.transpose(candidates))


def accidental_hits(candidate_ids):
    """`(B, B)` bool: candidate j equals candidate i, j != i.

    `candidate_ids` is `(B,)` (one id each) or `(B, T)` padded id sequences,
    compared whole.
    """
    ids = ops.convert_to_tensor(candidate_ids)
    if len(ids.shape) == 1:
        same = ops.equal(ids[:, None], ids[None, :])
    else:
        same = ops.all(ops.equal(ids[:, None, :], ids[None, :, :]), axis=-1)
    batch = ops.shape(ids)[0]
    return ops.logical_and(same, ops.logical_not(
        ops.cast(ops.eye(batch), "bool")))


def in_batch_softmax_loss(scores, candidate_ids=None, log_q=None,
                          temperature=1.0):
    """Per-row cross-entropy of the in-batch softmax.

    Args:
        scores: `(B, B)` similarities, row i = query i, column j =
            candidate j; the positive is on the diagonal.
        candidate_ids: optional `(B,)` or `(B, T)` ids of the candidates;
            given, accidental hits are masked.
        log_q: optional `(B,)` log sampling probability of each candidate
            (logQ correction).
        temperature: float. Logits are `scores / temperature`.

    Returns:
        `(B,)` losses: `-log softmax(logits_i)[i]`.
    """
    check_temperature(temperature)
    logits = ops.cast(scores, "float32") / temperature
    if log_q is not None:
        logits = logits - ops.cast(log_q, "float32")[None, :]
    if candidate_ids is not None:
        logits = ops.where(accidental_hits(candidate_ids), _MASKED_LOGIT,
                           logits)
    batch = ops.shape(logits)[0]
    labels = ops.arange(batch)
    return keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                        from_logits=True)


@register
class InBatchSoftmaxLoss(keras.losses.Loss):
    """In-batch softmax as a Keras loss over a score matrix.

    `y_pred` is the `(B, B)` score matrix (queries x the batch's candidates);
    `y_true` the candidates' ids `(B,)` or `(B, T)`, used to mask accidental
    hits when `remove_accidental_hits` is on (ignored otherwise). For the
    logQ correction use `keras_o2v.retrieval.RetrievalModel`, which has the
    candidates' sampling probabilities at hand.

    Args:
        temperature: float. Logits are `scores / temperature`. Defaults to 1.
        remove_accidental_hits: bool. Defaults to True.
    """

    def __init__(self, temperature=1.0, remove_accidental_hits=True,
                 name="in_batch_softmax", **kwargs):
        check_temperature(temperature)
        super().__init__(name=name, **kwargs)
        self.temperature = temperature
        self.remove_accidental_hits = remove_accidental_hits

    def call(self, y_true, y_pred):
        ids = y_true if self.remove_accidental_hits else None
        return in_batch_softmax_loss(y_pred, ids, temperature=self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature,
                "remove_accidental_hits": self.remove_accidental_hits}
