"""JSON Lines channel -> `tf.data.Dataset` of `({"in0", "in1"}, label)`.

Records stream through a shuffle buffer of `shuffle_buffer` records: when it
is full, it is permuted and half of it (rounded down to whole batches) goes
out as batches, the other half stays to be mixed with the next lines. Files of
a directory are read in a new random order each epoch. A channel smaller
than the buffer is therefore shuffled uniformly every epoch; a larger one is
shuffled within windows of about `shuffle_buffer` records, like
`tf.data.Dataset.shuffle`. Each batch is padded with 0s to its longest
sequence (after truncation to `max_seq_len`).

Batches are built with numpy in the generator that feeds `tf.data`, one
generator call per batch, and prefetched, so parsing runs beside training.
"""

import itertools

import numpy as np
import tensorflow as tf

from keras_o2v.data.bucketing import batch_order
from keras_o2v.data.jsonl import DEFAULT_CHUNK_LINES
from keras_o2v.data.jsonl import list_files
from keras_o2v.data.jsonl import read_records
from keras_o2v.data.negative_sampling import make_negatives
from keras_o2v.data.records import Records

DEFAULT_SHUFFLE_BUFFER = 100_000


class JsonlChannel:
    """A train, validation or test channel read from JSON Lines.

    Args:
        path: file or directory of JSON Lines files.
        spec: `keras_o2v.data.RecordSpec` (fields, vocab sizes, labels).
        batch_size: int. Pairs per batch.
        shuffle: bool. Shuffle records (and files) each epoch. Defaults to
            True; use False for evaluation.
        shuffle_buffer: int. Records held for shuffling. Defaults to 100000.
        bucket_width: int. Group records of similar length (see
            `keras_o2v.data.bucketing`); 0 disables. Defaults to 0.
        negative_sampling_rate: int. Negatives per positive (see
            `keras_o2v.data.negative_sampling`). Defaults to 0.
        seed: optional int. Same seed, same batches.
        drop_remainder: bool. Drop the last, smaller batch. Defaults to False.
        stats: optional `ChannelStats` from `keras_o2v.data.scan`. When given,
            the dataset declares its exact number of batches, so progress
            bars and `fit` know each epoch's length from the start.

    A bad record raises `ValueError` when its chunk is read, before any batch
    holding it is built; inside `tf.data` it surfaces as a TensorFlow error,
    and the original `ValueError` is kept in `self.error`.
    """

    def __init__(self, path, spec, batch_size, shuffle=True,
                 shuffle_buffer=DEFAULT_SHUFFLE_BUFFER, bucket_width=0,
                 negative_sampling_rate=0, seed=None, drop_remainder=False,
                 stats=None, chunk_lines=DEFAULT_CHUNK_LINES):
        if batch_size < 1:
            raise ValueError("`batch_size` must be an integer >= 1. "
                             f"Received: batch_size={batch_size}")
        if shuffle_buffer < 2 * batch_size:
            raise ValueError(
                "`shuffle_buffer` must be at least 2 * batch_size = "
                f"{2 * batch_size}. Received: shuffle_buffer={shuffle_buffer}")
        list_files(path)  # fail now on a missing path
        self.path = path
        self.spec = spec
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.bucket_width = bucket_width
        self.negative_sampling_rate = negative_sampling_rate
        self.seed = seed
        self.drop_remainder = drop_remainder
        self.stats = stats
        self.chunk_lines = chunk_lines
        self.error = None
        self.epoch_records = 0  # records yielded so far in the current epoch
        self._epochs = itertools.count()

    def _chunks(self, rng):
        files = list_files(self.path)
        if self.shuffle:
            files = [files[i] for i in rng.permutation(len(files))]
        for file in files:
            yield from read_records(file, self.spec, self.chunk_lines)

    def _emit(self, block, pool, carry, rng, final):
        """Adds negatives to `block`, yields its batches; returns the carry."""
        negatives = make_negatives(block, pool, self.negative_sampling_rate,
                                   rng)
        block = Records.concat([carry, block, negatives])
        batches, leftover = batch_order(block, self.batch_size,
                                        self.bucket_width, rng, self.shuffle)
        for indices in batches:
            yield block.take(indices)
        carry = block.take(leftover)
        if final and len(carry) and not self.drop_remainder:
            yield carry
        return carry

    def batches(self, epoch=0):
        """Yields the `Records` of each batch of one epoch."""
        rng = np.random.default_rng(
            None if self.seed is None else [self.seed, epoch])
        pool = carry = None
        for chunk in self._chunks(rng):
            if carry is None:
                carry = chunk.take(np.zeros(0, np.int64))
            pool = chunk if pool is None else Records.concat([pool, chunk])
            if self.shuffle and len(pool) < self.shuffle_buffer:
                continue
            if self.shuffle:
                order = rng.permutation(len(pool))
                half = len(pool) // 2
                block, rest = pool.take(order[:half]), pool.take(order[half:])
            else:
                block, rest = pool, pool.take(np.zeros(0, np.int64))
            carry = yield from self._emit(block, pool, carry, rng, False)
            pool = rest
        if pool is not None:
            if self.shuffle:
                pool = pool.take(rng.permutation(len(pool)))
            yield from self._emit(pool, pool, carry, rng, True)

    def as_tensors(self, records):
        """`Records` -> `({"in0": ids, "in1": ids}, labels)` numpy arrays."""
        labels = records.labels
        if self.spec.label == "regression":
            labels = labels.reshape(-1, 1)
        return ({"in0": records.in0.to_padded(),
                 "in1": records.in1.to_padded()}, labels)

    def element_spec(self):
        ids = tf.TensorSpec((None, None), tf.int32)
        if self.spec.label == "regression":
            label = tf.TensorSpec((None, 1), tf.float32)
        else:
            label = tf.TensorSpec((None,), tf.int32)
        return ({"in0": ids, "in1": ids}, label)

    @property
    def num_batches(self):
        """Batches per epoch, or None when no `stats` were given."""
        if self.stats is None:
            return None
        total = (self.stats.records
                 + self.negative_sampling_rate * self.stats.nonzero_labels)
        if self.drop_remainder:
            return total // self.batch_size
        return -(-total // self.batch_size)

    def as_dataset(self):
        """A `tf.data.Dataset`; each pass over it is a fresh epoch."""

        def generate():
            epoch = next(self._epochs)
            self.epoch_records = 0
            try:
                for records in self.batches(epoch):
                    self.epoch_records += len(records)
                    yield self.as_tensors(records)
            except ValueError as e:
                self.error = e
                raise

        dataset = tf.data.Dataset.from_generator(
            generate, output_signature=self.element_spec())
        if self.num_batches is not None:
            dataset = dataset.apply(
                tf.data.experimental.assert_cardinality(self.num_batches))
        return dataset.prefetch(tf.data.AUTOTUNE)
