"""JSON Lines parsed in worker processes, yielded in file order.

`read_records` parses in one Python thread: on a large channel the first
epoch (and every epoch of a channel larger than its shuffle buffer) is bound
by one core, and the parsing holds the GIL that the training loop's Python
also needs. `ParallelReader` splits the work into jobs -- byte ranges of a
plain file (cut at line starts), or whole files (`.gz` files cannot be cut,
and small files need not be) -- parses them in forked worker processes with
the very code `read_records` runs (`jsonl.parse_line_chunk`), and yields the
validated `Records` in file order, cut into the same chunks as
`read_records` (lines `[k * chunk_lines, (k + 1) * chunk_lines)` of each
file): same input, same output, whatever the number of workers.

Errors: the first bad line in file order raises the very `ValueError`
`read_records` raises, after the chunks before it were yielded. A worker
parsing a byte range does not know how many lines precede it, so when a
range fails the parent (which knows by then) parses that range again
in-process to raise the message with the true line number.

Workers are forked (`fork` start method), because a fresh interpreter
would import `keras_o2v` and with it TensorFlow (seconds and hundreds of
MB); the children only run numpy/orjson code and never touch TensorFlow.
The pool is forked on first use and reused for every later read; it is shut
down by `close()`, when the reader is garbage-collected, at interpreter
exit, and whenever a read does not run to its end (the consumer stopped
early, an error, a KeyboardInterrupt): the next read forks a fresh pool.
Where `fork` is unavailable, reads run in-process (`fork_available()`).

Memory stays flat in the file size: each worker has at most `depth` jobs
queued and `2 * depth` result messages waiting (backpressure via bounded
queues); results travel as pickled numpy arrays.
"""

import gc
import io
import multiprocessing
import os
import queue
import signal
import weakref

import numpy as np

from keras_o2v.data.jsonl import DEFAULT_CHUNK_LINES
from keras_o2v.data.jsonl import list_files
from keras_o2v.data.jsonl import parse_line_chunk
from keras_o2v.data.jsonl import read_line_chunks
from keras_o2v.data.records import Records

# 1 MiB of JSON Lines is ~1,800 pairs of 50 ids: small enough that a
# streaming channel gets its records in a steady flow, large enough that a
# job's messaging costs nothing next to its parsing.
DEFAULT_RANGE_BYTES = 1 << 20
DEFAULT_DEPTH = 2  # jobs queued per worker
_POLL_S = 0.5  # how often a blocked side checks that the other is alive


def fork_available():
    """Whether worker processes can be forked here (Linux, macOS)."""
    return "fork" in multiprocessing.get_all_start_methods()


def plan_jobs(files, range_bytes=DEFAULT_RANGE_BYTES):
    """`(file, start, end)` jobs covering `files` in order.

    A plain file larger than `range_bytes` is cut into byte ranges that
    start at line starts; a `.gz` file or a smaller file is one job
    `(file, 0, None)`.
    """
    jobs = []
    for file in files:
        size = os.path.getsize(file)
        if file.endswith(".gz") or size <= range_bytes:
            jobs.append((file, 0, None))
            continue
        starts = [0]
        with open(file, "rb") as f:
            while starts[-1] + range_bytes < size:
                # The next line start at or after the tentative cut: the
                # byte before a line start is a newline (or none at 0).
                f.seek(starts[-1] + range_bytes - 1)
                f.readline()
                if f.tell() >= size:
                    break
                starts.append(f.tell())
        jobs.extend((file, a, b) for a, b in zip(starts, starts[1:] + [size]))
    return jobs


def _range_chunks(file, start, end, chunk_lines, first_lineno):
    """`(first line number, lines)` of the byte range `[start, end)`.

    Chunks end where `read_records`' chunks end when `first_lineno` is the
    true line number: at multiples of `chunk_lines`.
    """
    with open(file, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    # BytesIO splits at b"\n" only, exactly as iterating the file does.
    lines = io.BytesIO(data).readlines()
    i, size = 0, chunk_lines - (first_lineno - 1) % chunk_lines
    while i < len(lines):
        yield first_lineno + i, lines[i:i + size]
        i, size = i + size, chunk_lines


def _parse_job(file, start, end, spec, chunk_lines, piece_bytes,
               first_lineno=1):
    """Yields `(records or None, line index of each record, lines)` pieces.

    `end=None` reads the whole file (true line numbers, streamed in pieces
    of about `piece_bytes`); otherwise the range `[start, end)` is one
    piece, its lines numbered from `first_lineno`. Line indices are 0-based
    from the piece's first line. On a bad record, the good chunks before it
    go out as a piece first (as `read_records` yields them before it
    raises), then the `ValueError` is raised with `chunk_first_line` set to
    the first line of the chunk that failed.
    """
    parts, indices, lines_done, size = [], [], 0, 0

    def piece():
        records = Records.concat(parts) if parts else None
        index = (np.concatenate(indices) if indices
                 else np.zeros(0, np.int64))
        return records, index, lines_done

    if end is None:
        chunks = read_line_chunks(file, chunk_lines)
    else:
        chunks = _range_chunks(file, start, end, chunk_lines, first_lineno)
    first = None
    try:
        for first, lines in chunks:
            records = parse_line_chunk(file, first, lines, spec)
            if records is not None:
                parts.append(records)
                nonblank = [not line.isspace() for line in lines]
                indices.append(lines_done + np.flatnonzero(nonblank))
            lines_done += len(lines)
            size += sum(map(len, lines))
            if end is None and size >= piece_bytes:
                yield piece()
                parts, indices, lines_done, size = [], [], 0, 0
    except ValueError as e:
        if parts:
            yield piece()
        e.chunk_first_line = first
        raise
    yield piece()


def _worker_main(jobs, results, parent_pid):
    """A worker's loop: parse each job, put its pieces, then "done"."""
    # Ctrl-C reaches the whole process group: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's objects are never collected here: keep the collector
    # off their pages, so they stay shared with the parent, not copied.
    gc.freeze()
    try:
        while True:
            try:
                job = jobs.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:  # orphaned
                    break
                continue
            if job is None:
                break
            job_id, file, start, end, spec, chunk_lines, piece_bytes = job
            try:
                for piece in _parse_job(file, start, end, spec, chunk_lines,
                                        piece_bytes):
                    _put(results, ("piece", job_id, piece), parent_pid)
            except Exception as e:  # noqa: BLE001 -- re-raised in the parent
                # Only strings cross: any exception type pickles this way.
                _put(results, ("error", job_id, type(e).__name__, str(e)),
                     parent_pid)
            else:
                _put(results, ("done", job_id), parent_pid)
    finally:
        # Straight out: no atexit handlers or inherited finalizers of the
        # parent (TensorFlow's among them) run in the child, and unsent
        # results (nobody will read them) are not waited for.
        os._exit(0)


def _shutdown(owner, processes, queues):
    """Stops `processes`, if this process is their parent (`owner`).

    A forked child inherits its parent's readers and their finalizers; it
    must leave its siblings alone.
    """
    if os.getpid() != owner:
        return
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    for q in queues:
        q.cancel_join_thread()  # never block on unsent data
        q.close()
    processes.clear()
    queues.clear()


def _reraise(type_name, text, who):
    """Raises in the parent what a child reported as (type name, message).

    Only strings cross processes (any exception pickles that way): a
    `ValueError` (bad data) and an `OSError` come back as such, with the
    child's message; anything else is a `RuntimeError` naming the child.
    """
    if type_name == "ValueError":
        raise ValueError(text)
    if type_name in ("OSError", "FileNotFoundError", "PermissionError",
                     "IsADirectoryError", "NotADirectoryError"):
        raise OSError(text)
    raise RuntimeError(f"{who} failed: {type_name}: {text}")


def _slice_records(records, offsets, a, b):
    """Records `[a, b)`, as views; `offsets` = value offsets per input."""

    def ragged(key, r):
        if not len(r):  # an input the spec does not read
            return r
        return r.slice(a, b, offsets[key])

    inputs = {key: ragged(key, r) for key, r in records.inputs().items()}
    return Records(inputs.pop("in0"), inputs.pop("in1"), records.labels[a:b],
                   inputs)


def _offsets(records):
    return {key: np.concatenate([[0], np.cumsum(r.lengths)])
            for key, r in records.inputs().items()}


class _Rechunker:
    """Cuts the pieces of one file into `read_records`' chunks."""

    def __init__(self, file, chunk_lines):
        self.file = file
        self.chunk_lines = chunk_lines
        self.lines = 0  # lines of the file seen so far
        self.current = None  # chunk number of `self.parts`
        self.parts = []

    def add(self, records, index, lines):
        """Yields the chunks completed by a piece."""
        if records is not None and len(index):
            ids = (self.lines + index) // self.chunk_lines
            cuts = np.flatnonzero(np.diff(ids)) + 1
            bounds = [0, *cuts.tolist(), len(ids)]
            offsets = _offsets(records)
            for a, b in zip(bounds, bounds[1:]):
                if ids[a] != self.current:
                    yield from self.flush()
                    self.current = ids[a]
                self.parts.append(_slice_records(records, offsets, a, b))
        self.lines += lines

    def flush(self):
        if self.parts:
            parts, self.parts = self.parts, []
            yield parts[0] if len(parts) == 1 else Records.concat(parts)


class ParallelReader:
    """Parses JSON Lines files in forked worker processes.

    Args:
        workers: int >= 1. Worker processes.
        range_bytes: int. Plain files larger than this are parsed in byte
            ranges of about this size. Defaults to 1 MiB.
        depth: int. Jobs queued per worker. Defaults to 2.

    Use `read(files, spec)` (or `read_records_parallel`); call `close()`
    when done, or let garbage collection or interpreter exit do it.
    """

    def __init__(self, workers, range_bytes=DEFAULT_RANGE_BYTES,
                 depth=DEFAULT_DEPTH):
        if isinstance(workers, bool) or not isinstance(workers, int) or (
                workers < 1):
            raise ValueError("`workers` must be an integer >= 1. "
                             f"Received: workers={workers!r}")
        if range_bytes < 1:
            raise ValueError("`range_bytes` must be an integer >= 1. "
                             f"Received: range_bytes={range_bytes!r}")
        if depth < 1:
            raise ValueError("`depth` must be an integer >= 1. "
                             f"Received: depth={depth!r}")
        self.workers = workers
        self.range_bytes = range_bytes
        self.depth = depth
        self._processes = []
        self._jobs = []  # one job queue per worker
        self._results = []  # one result queue per worker
        self._finalizer = None
        self._busy = False

    @property
    def started(self):
        """Whether the workers run."""
        return bool(self._processes)

    @property
    def busy(self):
        """Whether a read is under way (a reader serves one at a time)."""
        return self._busy

    def start(self):
        """Forks the workers (a no-op if they run)."""
        if self._processes and self._owner != os.getpid():
            # Inherited through a fork: those workers serve the parent.
            self._processes, self._jobs, self._results = [], [], []
            self._finalizer = None
        if self._processes:
            return
        context = multiprocessing.get_context("fork")
        for _ in range(self.workers):
            jobs = context.Queue()
            results = context.Queue(maxsize=2 * self.depth)
            process = context.Process(
                target=_worker_main, args=(jobs, results, os.getpid()),
                daemon=True, name="keras_o2v-parse")
            process.start()
            self._processes.append(process)
            self._jobs.append(jobs)
            self._results.append(results)
        # The lists, not `self`: the finalizer must not keep `self` alive.
        self._owner = os.getpid()
        self._finalizer = weakref.finalize(
            self, _shutdown, self._owner, self._processes,
            self._jobs + self._results)

    def close(self):
        """Stops the workers; a later read forks new ones."""
        if self._finalizer is not None:
            self._finalizer()
        self._processes, self._jobs, self._results = [], [], []
        self._finalizer = None

    def _get(self, worker):
        results, process = self._results[worker], self._processes[worker]
        while True:
            try:
                return results.get(timeout=_POLL_S)
            except queue.Empty:
                if not process.is_alive():
                    raise RuntimeError(
                        f"A JSON Lines parsing worker died (exit code "
                        f"{process.exitcode}); out of memory?") from None

    def read(self, files, spec, chunk_lines=DEFAULT_CHUNK_LINES):
        """Yields `(file, Records)` of `files`, in order, chunk by chunk.

        The chunks are those of `read_records(file, spec, chunk_lines)` for
        each file in turn.

        Raises:
            ValueError: the error `read_records` raises on the first bad
                record (after the chunks before it).
        """
        if self._busy:
            raise RuntimeError("A `ParallelReader` serves one read at a "
                               "time; close the previous read first.")
        jobs = plan_jobs(files, self.range_bytes)
        self._busy = True
        completed = False
        try:
            self.start()
            submitted = 0

            def submit():
                nonlocal submitted
                if submitted < len(jobs):
                    file, start, end = jobs[submitted]
                    self._jobs[submitted % self.workers].put(
                        (submitted, file, start, end, spec, chunk_lines,
                         self.range_bytes))
                    submitted += 1

            for _ in range(self.workers * self.depth):
                submit()
            rechunker = None
            for job_id, (file, start, end) in enumerate(jobs):
                if rechunker is None or rechunker.file != file:
                    if rechunker is not None:
                        for chunk in rechunker.flush():
                            yield rechunker.file, chunk
                    rechunker = _Rechunker(file, chunk_lines)
                while True:
                    message = self._get(job_id % self.workers)
                    kind, got = message[0], message[1]
                    if got != job_id:
                        raise AssertionError(f"expected job {job_id}, got "
                                             f"{got}")
                    if kind == "piece":
                        for chunk in rechunker.add(*message[2]):
                            yield file, chunk
                    elif kind == "done":
                        break
                    else:
                        yield from self._fail(message, rechunker, start, end,
                                              spec, chunk_lines)
                submit()
            if rechunker is not None:
                for chunk in rechunker.flush():
                    yield rechunker.file, chunk
            completed = True
        finally:
            self._busy = False
            if not completed:
                # Workers may be mid-job or blocked on a full queue:
                # a fresh pool is simpler and safer than draining them.
                self.close()

    def _fail(self, message, rechunker, start, end, spec, chunk_lines):
        """Yields the chunks before the bad line of a failed job, raises."""
        _, _, type_name, text = message
        file = rechunker.file
        if type_name == "ValueError" and end is not None:
            # The worker numbered the range's lines from 1; parse it again
            # here, where the lines before it are known, for the message
            # `read_records` gives.
            try:
                for piece in _parse_job(file, start, end, spec, chunk_lines,
                                        self.range_bytes,
                                        rechunker.lines + 1):
                    for chunk in rechunker.add(*piece):
                        yield file, chunk
            except ValueError as e:
                bad = (e.chunk_first_line - 1) // chunk_lines
                if rechunker.current == bad:
                    # Lines of the bad chunk from earlier ranges:
                    # `read_records` never yields that chunk.
                    rechunker.parts = []
                for chunk in rechunker.flush():
                    yield file, chunk
                raise
        elif type_name == "ValueError":
            # A whole file: true line numbers, and its pieces held only the
            # complete chunks before the bad one.
            for chunk in rechunker.flush():
                yield file, chunk
            raise ValueError(text)
        if type_name in ("OSError", "FileNotFoundError", "PermissionError",
                         "IsADirectoryError"):
            raise OSError(text)
        raise RuntimeError(f"A JSON Lines parsing worker failed on {file}: "
                           f"{type_name}: {text}")


def read_records_parallel(path, spec, chunk_lines=DEFAULT_CHUNK_LINES,
                          workers=2, range_bytes=DEFAULT_RANGE_BYTES):
    """`read_records`, parsed in `workers` forked processes.

    Yields the same `Records` chunks as `keras_o2v.data.read_records` and
    raises the same `ValueError` on the first bad record. The workers are
    forked on the first chunk asked for and stopped when the generator
    ends or is closed. Where processes cannot be forked, parses in-process.

    Args:
        path: a JSON Lines file or a directory of them.
        spec: `RecordSpec`.
        chunk_lines: int. Lines per chunk.
        workers: int >= 1. Worker processes. Defaults to 2.
        range_bytes: int. Plain files larger than this are parsed in byte
            ranges of about this size.
    """
    files = list_files(path)
    if not fork_available():
        from keras_o2v.data.jsonl import read_records

        for file in files:
            yield from read_records(file, spec, chunk_lines)
        return
    reader = ParallelReader(workers, range_bytes)
    try:
        for _, chunk in reader.read(files, spec, chunk_lines):
            yield chunk
    finally:
        reader.close()


def _put(results, message, parent_pid):
    """`results.put(message)`, waiting while the queue is full; ends the
    process if its parent is gone (nobody will ever read it)."""
    while True:
        try:
            results.put(message, timeout=_POLL_S)
            return
        except queue.Full:
            if os.getppid() != parent_pid:
                raise SystemExit(0)  # the caller's `finally` exits


def _producer_main(make_epoch, commands, results, parent_pid):
    """The batch process's loop: epochs on command, items back.

    After an epoch it goes straight on with the next one (the parent
    usually asks for it next: its first batches are then ready when the
    next epoch begins); the parent replaces the process when it wants
    another.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()  # as in `_worker_main`
    # `terminate()` stops this process's own children, then the process.
    # Not by raising SystemExit: Python ignores an exception raised in a
    # gc callback or a destructor, where the signal may land.
    signal.signal(signal.SIGTERM, _stop_on_signal)
    # This process may fork parsing workers of its own (`ParallelReader`):
    # multiprocessing refuses children to a daemonic process because they
    # could be orphaned if it were killed; ours would notice
    # (`_worker_main` polls its parent) and exit.
    multiprocessing.current_process()._config["daemon"] = False
    try:
        epoch = None
        while True:
            if epoch is None:
                try:
                    epoch = commands.get(timeout=_POLL_S)
                except queue.Empty:
                    if os.getppid() != parent_pid:
                        break
                    continue
                if epoch is None:
                    break
            try:
                for item in make_epoch(epoch):
                    _put(results, ("item", epoch, item), parent_pid)
            except Exception as e:  # noqa: BLE001 -- re-raised in the parent
                _put(results, ("error", epoch, type(e).__name__, str(e)),
                     parent_pid)
                epoch = None  # wait for a command
            else:
                _put(results, ("end", epoch), parent_pid)
                epoch += 1
    finally:
        _stop_children_and_exit()


def _stop_children_and_exit():
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=5)
    os._exit(0)


def _stop_on_signal(signum, frame):
    _stop_children_and_exit()


class BackgroundEpochs:
    """Runs `make_epoch(epoch)` in a forked process, yields its items.

    The process is forked on first use and kept for later epochs, so what
    `make_epoch` keeps between epochs (a channel's cache) stays there; after
    epoch k it goes on with epoch k + 1, ready when asked for (asking for
    another epoch replaces the process). At most `depth` items wait in the
    queue. An epoch not read to its end
    shuts the process down (a later epoch forks a fresh one); so do
    `close()`, garbage collection and interpreter exit.

    Args:
        make_epoch: callable epoch -> iterable of picklable items. Runs in
            the child: it must not use TensorFlow.
        depth: int. Items produced ahead of the consumer.
    """

    def __init__(self, make_epoch, depth):
        self.make_epoch = make_epoch
        self.depth = depth
        self._process = None
        self._commands = None
        self._results = None
        self._finalizer = None
        self._busy = False
        self._next = None  # the epoch the process makes without a command

    @property
    def busy(self):
        """Whether an epoch is under way."""
        return self._busy

    def _start(self):
        if self._process is not None and self._owner != os.getpid():
            self._process = self._commands = self._results = None
            self._finalizer = None  # inherited: the parent's process
        if self._process is not None:
            return
        context = multiprocessing.get_context("fork")
        self._commands = context.Queue()
        self._results = context.Queue(maxsize=self.depth)
        self._process = context.Process(
            target=_producer_main,
            args=(self.make_epoch, self._commands, self._results,
                  os.getpid()),
            daemon=True, name="keras_o2v-batches")
        self._process.start()
        self._owner = os.getpid()
        self._finalizer = weakref.finalize(
            self, _shutdown, self._owner, [self._process],
            [self._commands, self._results])

    def close(self):
        """Stops the process; a later epoch forks a new one."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = self._commands = self._results = None
        self._finalizer = None
        self._next = None

    def epoch(self, epoch):
        """Yields the items of `make_epoch(epoch)`, made in the child.

        Raises:
            ValueError: re-raised with the message of a `ValueError` the
                child raised (other types become a `RuntimeError`).
        """
        if self._busy:
            raise RuntimeError("A `BackgroundEpochs` serves one epoch at a "
                               "time.")
        self._busy = True
        completed = False
        try:
            if self._next is not None and self._next != epoch:
                self.close()  # it is making another epoch
            self._start()
            if self._next != epoch:
                self._commands.put(epoch)
            self._next = None
            while True:
                try:
                    message = self._results.get(timeout=_POLL_S)
                except queue.Empty:
                    if not self._process.is_alive():
                        raise RuntimeError(
                            "The batch process died (exit code "
                            f"{self._process.exitcode}); out of memory?"
                        ) from None
                    continue
                if message[1] != epoch:
                    raise AssertionError(f"expected epoch {epoch}, got "
                                         f"{message[1]}")
                if message[0] == "item":
                    yield message[2]
                elif message[0] == "end":
                    break
                else:
                    _, _, type_name, text = message
                    completed = True  # the child waits for a command
                    _reraise(type_name, text, "The batch process")
            completed = True
            self._next = epoch + 1
        finally:
            self._busy = False
            if not completed:
                self.close()
