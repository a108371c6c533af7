"""Batch order: shuffled, or grouped by length when `bucket_width` > 0.

With bucketing, the records of a shuffle block are sorted by
`max(len(in0), len(in1)) // bucket_width` (ties broken at random), cut into
consecutive batches, and the batches are then emitted in random order. Every
batch thus holds records of similar length, so per-batch padding stays small.
With feature-rich objects the longest of all inputs counts, extra fields
included: a movie's raters or a user's history is then what a batch pads.
"""

import numpy as np


def batch_order(records, batch_size, bucket_width, rng, shuffle=True):
    """Index arrays, one per full batch, and the leftover indices.

    Args:
        records: `Records` of one shuffle block.
        batch_size: int.
        bucket_width: int. 0 disables bucketing.
        rng: `np.random.Generator`.
        shuffle: bool. If False, keep file order (and skip bucketing).

    Returns:
        (list of index arrays of length `batch_size`, leftover index array).
    """
    n = len(records)
    if not shuffle:
        order = np.arange(n)
    elif bucket_width > 0:
        length = np.max([ragged.lengths for ragged in
                         records.inputs().values()], axis=0)
        order = np.lexsort((rng.random(n), length // bucket_width))
    else:
        order = rng.permutation(n)
    full = (n // batch_size) * batch_size
    batches = np.split(order[:full], full // batch_size) if full else []
    if shuffle and bucket_width > 0:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches, order[full:]
