"""JSON Lines channel -> `tf.data.Dataset` of `({"in0", "in1"}, label)`.

Records stream through a shuffle buffer of `shuffle_buffer` records: when it
is full, it is permuted and half of it (rounded down to whole batches) goes
out as batches, emitted a few at a time while the next lines are read; the
other half stays to be mixed with those lines. Files of
a directory are read in a new random order each epoch. A channel smaller
than the buffer is therefore shuffled uniformly every epoch; a larger one is
shuffled within windows of about `shuffle_buffer` records, like
`tf.data.Dataset.shuffle`. Each batch is padded with 0s to its longest
sequence (after truncation to `max_seq_len`).

Batches are built with numpy in the generator that feeds `tf.data`, one
generator call per batch, and prefetched, so parsing runs beside training.
A channel that fits in the shuffle buffer is parsed once and kept in memory
(`cache=True`), so later epochs only re-shuffle it.

A large channel is parsed in worker processes (`workers`, see
`keras_o2v.data.parallel`): parsing then scales with cores and no longer
holds the GIL the training loop needs; the batches are the same for any
number of workers.
"""

import collections
import math
import os

import numpy as np
import tensorflow as tf

from keras_o2v.data.bucketing import batch_order
from keras_o2v.data.jsonl import DEFAULT_CHUNK_LINES
from keras_o2v.data.jsonl import list_files
from keras_o2v.data.jsonl import no_records_message
from keras_o2v.data.jsonl import read_records
from keras_o2v.data.negative_sampling import make_negatives
from keras_o2v.data.parallel import BackgroundEpochs
from keras_o2v.data.parallel import ParallelReader
from keras_o2v.data.parallel import fork_available
from keras_o2v.data.records import Records
from keras_o2v.hyperparameters import is_weights_key

DEFAULT_SHUFFLE_BUFFER = 100_000
PREFETCH_BATCHES = 16
# `workers="auto"`: channels up to this size parse in-process (forking and
# messaging would cost more than they save; tests and small data pay
# nothing); larger ones use up to AUTO_MAX_WORKERS processes.
AUTO_MIN_BYTES = 8 << 20
AUTO_MAX_WORKERS = 4


def check_batching(batch_size, shuffle_buffer):
    """Raises unless a channel can cut batches of `batch_size` from a
    shuffle buffer of `shuffle_buffer` records."""
    if batch_size < 1:
        raise ValueError("`batch_size` must be an integer >= 1. "
                         f"Received: batch_size={batch_size}")
    if shuffle_buffer < 2 * batch_size:
        raise ValueError(
            "`shuffle_buffer` must be at least 2 * batch_size = "
            f"{2 * batch_size}. Received: shuffle_buffer={shuffle_buffer}")


def check_on_error(on_error):
    if on_error not in ("raise", "stop"):
        raise ValueError("`on_error` must be 'raise' or 'stop'. "
                         f"Received: on_error={on_error!r}")


def epoch_counts(records, positives, negative_sampling_rate, batch_size,
                 drop_remainder):
    """`(records, batches)` one epoch delivers, negatives included."""
    total = records + negative_sampling_rate * positives
    if drop_remainder:
        return total // batch_size * batch_size, total // batch_size
    return total, -(-total // batch_size)


def finish_dataset(dataset, num_batches, num_shards):
    """A channel's dataset as `fit` gets it: its exact batch count (when
    known) declared, a fixed prefetch, and auto-sharding off when the
    channel reads only its worker's files."""
    if num_batches is not None:
        dataset = dataset.apply(
            tf.data.experimental.assert_cardinality(num_batches))
    # A fixed prefetch depth with autotuning off: destroying an epoch's
    # iterator can otherwise block for up to seconds, waiting on the
    # autotuner thread (benchmarks/README.md, "teardown").
    options = tf.data.Options()
    options.autotune.enabled = False
    if num_shards > 1:
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF)
    return dataset.prefetch(PREFETCH_BATCHES).with_options(options)


def input_element_spec(spec):
    """`(inputs, label)` `tf.TensorSpec`s of a channel read with `spec`:
    int32 ids and float32 token weights, `(batch, None)` each."""
    inputs = {key: tf.TensorSpec((None, None), tf.float32
                                 if is_weights_key(key) else tf.int32)
              for key in spec.keys()}
    if spec.label == "regression":
        label = tf.TensorSpec((None, 1), tf.float32)
    else:
        label = tf.TensorSpec((None,), tf.int32)
    return inputs, label


def auto_workers(files):
    """The `workers="auto"` choice for a channel made of `files`."""
    if not fork_available():
        return 0
    if sum(os.path.getsize(f) for f in files) <= AUTO_MIN_BYTES:
        return 0
    return min(AUTO_MAX_WORKERS, os.cpu_count() or 1)


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
        chunk_lines: int. Lines parsed per chunk.
        cache: bool. Keep a channel of at most `shuffle_buffer` records in
            memory after the first epoch instead of parsing it again.
            Defaults to True. The files are then not re-read: changes to
            them after the first epoch are not seen.
        num_shards, shard_index: ints. Read only the files whose position in
            the sorted file list is `shard_index` modulo `num_shards` (one
            shard per worker in multi-worker training); the dataset then
            turns `tf.data` auto-sharding off. Defaults to 1, 0.
        workers: int >= 0 or `"auto"`. Processes that parse the files (see
            `keras_o2v.data.parallel`); with workers, `as_dataset` also
            builds the batches in one background process, so the `tf.data`
            generator only receives them. 0: all in the generator's thread.
            `"auto"` (default): 0 for channels up to 8 MB, else
            `min(4, os.cpu_count())`. Batches do not depend on it. Where
            processes cannot be forked, all is in-process. `close()` stops
            the processes (so do garbage collection and exit).

    A bad record raises `ValueError` when its chunk is read, before any batch
    holding it is built; inside `tf.data` it surfaces as a TensorFlow error,
    and the original `ValueError` is kept in `self.error`. So does a pass
    that finds no record at all (an empty file, or only blank lines).
    """

    def __init__(self, path, spec, batch_size, shuffle=True,
                 shuffle_buffer=DEFAULT_SHUFFLE_BUFFER, bucket_width=0,
                 negative_sampling_rate=0, seed=None, drop_remainder=False,
                 stats=None, chunk_lines=DEFAULT_CHUNK_LINES, cache=True,
                 num_shards=1, shard_index=0, workers="auto"):
        check_batching(batch_size, shuffle_buffer)
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
        self.cache = cache
        self.num_shards = num_shards
        self.shard_index = shard_index
        if num_shards > 1 and len(list_files(path)) < num_shards:
            raise ValueError(
                f"`num_shards={num_shards}` needs at least that many files; "
                f"{path!r} has {len(list_files(path))}.")
        if workers == "auto":
            workers = auto_workers(self._files())
        elif isinstance(workers, bool) or not isinstance(workers, int) or (
                workers < 0):
            raise ValueError("`workers` must be an integer >= 0 or 'auto'. "
                             f"Received: workers={workers!r}")
        self.workers = workers if fork_available() else 0
        self._reader = None  # ParallelReader, forked on first use
        self._background = None  # BackgroundEpochs of `as_dataset`
        self._cache = None  # (files, {file: [Records]}) after a full read
        self.error = None
        self.epoch_records = 0  # records yielded so far in the current epoch
        # Epoch whose shuffle the next pass over `as_dataset()` uses; a
        # resumed run sets it so that epoch k is shuffled as in a full run.
        self.next_epoch = 0

    def _chunks(self, rng):
        """Yields the `Records` chunks of one epoch, files in random order.

        A channel of at most `shuffle_buffer` records is kept in memory after
        its first full read, so later epochs skip parsing.
        """
        if self._cache is not None:
            files, chunks = self._cache
        else:
            files = self._files()
            chunks = {}
        order = (rng.permutation(len(files)) if self.shuffle
                 else range(len(files)))
        if self._cache is not None:
            for i in order:
                yield from chunks[files[i]]
            return
        total = 0
        for i in order:
            chunks[files[i]] = []
        for file, chunk in self._read([files[i] for i in order]):
            total += len(chunk)
            if self.cache and total <= self.shuffle_buffer:
                chunks[file].append(chunk)
            yield chunk
        if self.cache and total <= self.shuffle_buffer:
            self._cache = (files, chunks)
            if self._reader is not None:  # never parsed again
                self._reader.close()
                self._reader = None

    def _files(self):
        return list_files(self.path)[self.shard_index::self.num_shards]

    def _read(self, files):
        """Yields `(file, Records)` of `files` in order, chunk by chunk."""
        if not self.workers:
            for file in files:
                for chunk in read_records(file, self.spec, self.chunk_lines):
                    yield file, chunk
            return
        if self._reader is None or self._reader.busy:
            # Busy: an abandoned epoch's generator still holds it; that
            # reader shuts down when the generator is closed or collected.
            self._reader = ParallelReader(self.workers)
        yield from self._reader.read(files, self.spec, self.chunk_lines)

    def close(self):
        """Stops the worker processes, if any (a later epoch forks new
        ones). Garbage collection and interpreter exit also do it."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._background is not None:
            self._background.close()
            self._background = None

    def _tensor_batches(self, epoch):
        """`as_tensors` of each batch of `epoch` (run in the batch process)."""
        for records in self.batches(epoch):
            yield self.as_tensors(records)

    def _epoch_tensors(self, epoch):
        """Yields `as_tensors` of each batch of one epoch, for `tf.data`.

        With workers, the batches are made in a background process
        (`BackgroundEpochs`) and this thread only receives them: shuffling,
        negative sampling, bucketing and padding then hold no GIL that the
        training loop needs.
        """
        if not self.workers:
            for records in self.batches(epoch):
                yield self.as_tensors(records)
            return
        if self._background is None or self._background.busy:
            # Busy: an abandoned pass still holds it (see `_read`).
            self._background = BackgroundEpochs(self._tensor_batches,
                                                PREFETCH_BATCHES)
        yield from self._background.epoch(epoch)

    def _plan(self, block, pool, carry, rng, pending):
        """Queues the batches of `block` (+ its negatives); returns the carry.

        `carry` holds the records left over from the previous block, which
        lead the next one so that every batch but the last is full.
        """
        negatives = make_negatives(block, pool, self.negative_sampling_rate,
                                   rng)
        block = Records.concat([carry, block, negatives])
        batches, leftover = batch_order(block, self.batch_size,
                                        self.bucket_width, rng, self.shuffle)
        pending.extend((block, indices) for indices in batches)
        return block.take(leftover)

    @staticmethod
    def _pop(pending, count):
        for _ in range(min(count, len(pending))):
            block, indices = pending.popleft()
            yield block.take(indices)

    def batches(self, epoch=0):
        """Yields the `Records` of each batch of one epoch."""
        rng = np.random.default_rng(
            None if self.seed is None else [self.seed, epoch])
        pending = collections.deque()  # (block, indices) of queued batches
        parts, size = [], 0  # the shuffle buffer, as a list of chunks
        carry = None
        per_record = 0.0  # queued batches to emit per record read
        for chunk in self._chunks(rng):
            if carry is None:
                carry = chunk.take(np.zeros(0, np.int64))
            if not self.shuffle:
                carry = self._plan(chunk, chunk, carry, rng, pending)
                yield from self._pop(pending, len(pending))
                continue
            parts.append(chunk)
            size += len(chunk)
            if size >= self.shuffle_buffer:
                yield from self._pop(pending, len(pending))
                pool = Records.concat(parts)
                order = rng.permutation(len(pool))
                half = len(pool) // 2
                block, rest = pool.take(order[:half]), pool.take(order[half:])
                carry = self._plan(block, pool, carry, rng, pending)
                parts, size = [rest], len(rest)
                per_record = len(pending) / max(1, self.shuffle_buffer - size)
            # A block's batches go out while the buffer refills, so parsing
            # is spread over the epoch instead of done in bursts.
            yield from self._pop(pending, math.ceil(len(chunk) * per_record))
        yield from self._pop(pending, len(pending))
        if size:
            pool = Records.concat(parts)
            pool = pool.take(rng.permutation(len(pool)))
            carry = self._plan(pool, pool, carry, rng, pending)
            yield from self._pop(pending, len(pending))
        if carry is not None and len(carry) and not self.drop_remainder:
            yield carry

    def as_tensors(self, records):
        """`Records` -> `({"in0": ids, "in1": ids, ...}, labels)` numpy
        arrays: every input the spec reads (extra fields too), padded."""
        labels = records.labels
        if self.spec.label == "regression":
            labels = labels.reshape(-1, 1)
        return records.padded(self.spec.keys()), labels

    def element_spec(self):
        return input_element_spec(self.spec)

    @property
    def records_per_epoch(self):
        """Records (negatives included) of one epoch: exact with `stats`,
        else those the current or last pass has read so far."""
        if self.stats is None:
            return self.epoch_records
        return self._epoch_counts()[0]

    def _epoch_counts(self):
        return epoch_counts(self.stats.records, self.stats.nonzero_labels,
                            self.negative_sampling_rate, self.batch_size,
                            self.drop_remainder)

    @property
    def num_batches(self):
        """Batches per epoch, or None when no `stats` were given."""
        if self.stats is None:
            return None
        return self._epoch_counts()[1]

    def as_dataset(self, on_error="raise"):
        """A `tf.data.Dataset`; each pass over it is a fresh epoch.

        Args:
            on_error: `"raise"` (default): a bad record fails the pass with
                a TensorFlow error (TensorFlow also logs the traceback), the
                `ValueError` kept in `self.error`. `"stop"`: the pass ends
                quietly at the bad record and the caller must raise
                `self.error`, as `keras_o2v.training` does after each step.
        """
        check_on_error(on_error)

        def generate():
            epoch = self.next_epoch
            self.next_epoch += 1
            self.epoch_records = 0
            try:
                for x, y in self._epoch_tensors(epoch):
                    self.epoch_records += len(y)
                    yield x, y
                if not self.epoch_records:
                    raise ValueError(no_records_message(self.path))
            except ValueError as e:
                self.error = e
                if on_error == "raise":
                    raise

        dataset = tf.data.Dataset.from_generator(
            generate, output_signature=self.element_spec())
        return finish_dataset(dataset, self.num_batches, self.num_shards)
