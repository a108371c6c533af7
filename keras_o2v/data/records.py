"""Ragged batches of pair records as flat numpy arrays.

A `Ragged` holds many sequences (int32 ids, or float32 token weights) as one
flat `values` array plus `lengths`; `Records` holds the `in0`/`in1` sequences
and labels of many pairs, and the extra fields of feature-rich objects
(`in0_genres`, `in0_genres_weights`, ...). All operations are vectorised: no
Python loop per record.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Ragged:
    values: np.ndarray  # int32 ids (or float32 weights), back to back
    lengths: np.ndarray  # int64, one per sequence

    def __len__(self):
        return len(self.lengths)

    @property
    def starts(self):
        return np.cumsum(self.lengths) - self.lengths

    @classmethod
    def empty(cls):
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int64))

    @classmethod
    def concat(cls, parts):
        return cls(np.concatenate([p.values for p in parts]),
                   np.concatenate([p.lengths for p in parts]))

    def take(self, indices):
        """The sequences at `indices`, in that order."""
        indices = np.asarray(indices, np.int64)
        lengths = self.lengths[indices]
        total = int(lengths.sum())
        new_starts = np.cumsum(lengths) - lengths
        shift = np.repeat(self.starts[indices] - new_starts, lengths)
        return Ragged(self.values[np.arange(total) + shift], lengths)

    def truncate(self, max_len):
        """Keeps the first `max_len` ids of each sequence (the head)."""
        position = np.arange(len(self.values)) - np.repeat(self.starts,
                                                           self.lengths)
        return Ragged(self.values[position < max_len],
                      np.minimum(self.lengths, max_len))

    def slice(self, a, b, offsets=None):
        """Sequences `[a, b)` as views; `offsets`: cumulative lengths with a
        leading 0 (computed if not given)."""
        if offsets is None:
            offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        return Ragged(self.values[offsets[a]:offsets[b]], self.lengths[a:b])

    def to_padded(self):
        """Dense `(n, max_len)` array (the values' dtype), padded with
        trailing 0s."""
        width = int(self.lengths.max()) if len(self.lengths) else 0
        out = np.zeros((len(self.lengths), width), self.values.dtype)
        rows = np.repeat(np.arange(len(self.lengths)), self.lengths)
        cols = np.arange(len(self.values)) - np.repeat(self.starts,
                                                       self.lengths)
        out[rows, cols] = self.values
        return out

    def rows_equal(self, a, b):
        """Boolean array: is sequence `a[i]` identical to sequence `b[i]`?"""
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        same = self.lengths[a] == self.lengths[b]
        if same.any():
            idx = np.flatnonzero(same)
            left = self.take(a[idx]).to_padded()
            right = self.take(b[idx]).to_padded()
            same[idx] = np.all(left == right, axis=1)
        return same


@dataclasses.dataclass
class Records:
    """`in0`, `in1` and labels of many pairs, plus `extra` fields.

    `extra` maps a field's key (`"in0_genres"`, and `"in0_genres_weights"`
    for its token weights, aligned with its ids) to a `Ragged`; a field
    belongs to the side its key starts with.
    """

    in0: Ragged
    in1: Ragged
    labels: np.ndarray
    extra: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return len(self.labels)

    def inputs(self):
        """Every input field: `{"in0": Ragged, "in1": Ragged, **extra}`."""
        return {"in0": self.in0, "in1": self.in1, **self.extra}

    def padded(self, keys):
        """`{key: dense array}` of the inputs `keys`, padded with 0s."""
        inputs = self.inputs()
        return {key: inputs[key].to_padded() for key in keys}

    @classmethod
    def concat(cls, parts):
        return cls(Ragged.concat([p.in0 for p in parts]),
                   Ragged.concat([p.in1 for p in parts]),
                   np.concatenate([p.labels for p in parts]),
                   {key: Ragged.concat([p.extra[key] for p in parts])
                    for key in parts[0].extra})

    def take(self, indices):
        return Records(self.in0.take(indices), self.in1.take(indices),
                       self.labels[np.asarray(indices, np.int64)],
                       {key: r.take(indices) for key, r in self.extra.items()})

    def pair_with(self, indices, side, other, other_indices):
        """Rows `indices` of these records, with side `side` ("in1") and
        its extra fields from `other`'s rows `other_indices` (negative
        sampling); each input is taken once, from its own source."""
        ours, theirs = self.inputs(), other.inputs()
        inputs = {
            key: (theirs[key].take(other_indices)
                  if key == side or key.startswith(side + "_")
                  else ours[key].take(indices))
            for key in ours}
        return Records(inputs.pop("in0"), inputs.pop("in1"),
                       self.labels[np.asarray(indices, np.int64)], inputs)

    def split(self, n):
        """(first `n` records, the rest)."""
        idx = np.arange(len(self))
        return self.take(idx[:n]), self.take(idx[n:])
