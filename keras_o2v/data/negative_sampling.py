"""Negative sampling: `rate` made-up negatives per positive pair.

For each record whose label is not 0 (a positive), exactly `rate` negatives
are made by pairing its `in0` with the `in1` of records drawn uniformly at
random from the current shuffle buffer, labelled 0. A draw whose `in1` is
identical to the positive's own `in1` would be a copy of the positive with
the wrong label (an "accidental hit"): it is redrawn, up to `MAX_REDRAWS`
times, then drawn among the buffered records whose `in1` differs. If no
buffered `in1` differs from the positive's, a `ValueError` is raised.

Because draws are uniform over buffered *records*, an `in1` is drawn in
proportion to how often it occurs in the data (its popularity). Only the
train channel is augmented; validation and test are used as given.
"""

import numpy as np

from keras_o2v.data.records import Records

MAX_REDRAWS = 10


def make_negatives(block, pool, rate, rng):
    """Negatives for the positives of `block`, drawing `in1` from `pool`.

    Args:
        block: `Records` whose positives (label != 0) get negatives.
        pool: `Records` to draw `in1` from (may include `block`).
        rate: int. Negatives per positive.
        rng: `np.random.Generator`.

    Returns:
        `Records` of negatives (label 0), `rate` per positive.
    """
    positives = np.flatnonzero(block.labels != 0)
    if rate <= 0 or not len(positives) or not len(pool):
        return block.take(np.zeros(0, np.int64))
    owner = np.repeat(positives, rate)
    # One Ragged holding both sides so rows_equal can compare them.
    both = Records.concat([block, pool])
    offset = len(block)
    draws = rng.integers(0, len(pool), size=len(owner))
    hits = both.in1.rows_equal(owner, draws + offset)
    for _ in range(MAX_REDRAWS):
        if not hits.any():
            break
        redo = np.flatnonzero(hits)
        draws[redo] = rng.integers(0, len(pool), size=len(redo))
        hits[redo] = both.in1.rows_equal(owner[redo], draws[redo] + offset)
    for k in np.flatnonzero(hits):
        draws[k] = _draw_different(both, owner[k], offset, rng)
    # `in1` and its extra fields come from the drawn record together.
    negatives = block.pair_with(owner, "in1", pool, draws)
    negatives.labels = np.zeros(len(owner), block.labels.dtype)
    return negatives


def _draw_different(both, owner, offset, rng):
    """A pool index whose `in1` differs from row `owner`'s (exhaustive)."""
    candidates = np.arange(offset, len(both))
    same = both.in1.rows_equal(np.full(len(candidates), owner), candidates)
    choices = candidates[~same]
    if not len(choices):
        raise ValueError(
            "Negative sampling found no `in1` in the shuffle buffer that "
            "differs from a positive's `in1`: every buffered record has the "
            "same `in1`. Set `negative_sampling_rate=0` or provide varied "
            "`in1` values.")
    return int(rng.choice(choices)) - offset
