"""The retrieval objective of `train`: a two-tower in-batch softmax model.

`train(..., objective="retrieval")` trains `keras_o2v.retrieval.
RetrievalModel` instead of SageMaker's Object2Vec, from the same channels
and hyperparameters (`enc0_*`, `enc1_*`, `enc_dim`, optimizer, epochs,
`mini_batch_size`...). Records with a nonzero label are the positive
pairs; each batch's other `in1` are a pair's negatives, so
`negative_sampling_rate` must stay 0 and label-0 records are skipped.
"""

from keras_o2v.data.channels import open_channel
from keras_o2v.retrieval.model import RetrievalModel
from keras_o2v.retrieval.model import build_retrieval_model
from keras_o2v.retrieval.model import candidate_frequencies
from keras_o2v.retrieval.model import positive_batches

OBJECTIVES = ("object2vec", "retrieval")
# `train(retrieval={...})` keys: `RetrievalModel` options.
RETRIEVAL_OPTIONS = ("similarity", "temperature", "logq_correction",
                     "remove_accidental_hits", "train_metrics")
# Logged and written to metrics.json for validation and test (train: loss).
RETRIEVAL_METRICS = ("loss", "batch_hits_at_10")
_COUNT_BATCH = 8192


def check_objective(objective, options, hp):
    """Raises a `ValueError` on an objective its options don't fit."""
    if objective not in OBJECTIVES:
        raise ValueError(f"`objective` must be one of {OBJECTIVES}. "
                         f"Received: objective={objective!r}")
    if objective != "retrieval":
        if options:
            raise ValueError("`retrieval` options need "
                             "objective='retrieval'. Received: "
                             f"objective={objective!r}, retrieval={options}")
        return
    unknown = sorted(set(options or {}) - set(RETRIEVAL_OPTIONS))
    if unknown:
        raise ValueError(f"`retrieval` keys must be among "
                         f"{RETRIEVAL_OPTIONS}. Received: {unknown}")
    if hp["negative_sampling_rate"]:
        raise ValueError(
            "`negative_sampling_rate` must be 0 with objective='retrieval': "
            "the other candidates of each batch are the negatives. Received: "
            f"negative_sampling_rate={hp['negative_sampling_rate']}")


def build(hp, options):
    """The compiled `RetrievalModel` of `hp` and `options`."""
    return build_retrieval_model(hp, **(options or {}))


def batch_transform(train, spec, hp, options):
    """Labelled channel batches -> the model's positive-pair batches.

    With `logq_correction`, one pass over the train channel counts each
    `in1` among the positives first (single-token `in1` only).
    """
    frequencies = None
    if (options or {}).get("logq_correction"):
        channel = open_channel(train, spec, _COUNT_BATCH, shuffle=False)
        frequencies = candidate_frequencies(channel.as_dataset(),
                                            hp["enc1_vocab_size"])
    return lambda dataset: positive_batches(dataset, frequencies)


def objective_of(model):
    """`"retrieval"` for a `RetrievalModel`, else `"object2vec"`."""
    return "retrieval" if isinstance(model, RetrievalModel) else "object2vec"
