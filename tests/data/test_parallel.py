import gc
import gzip
import json
import multiprocessing
import time

import numpy as np
import pytest

from keras_o2v.data import InputSpec
from keras_o2v.data import JsonlChannel
from keras_o2v.data import RecordSpec
from keras_o2v.data import read_records
from keras_o2v.data.parallel import BackgroundEpochs
from keras_o2v.data.parallel import ParallelReader
from keras_o2v.data.parallel import fork_available
from keras_o2v.data.parallel import plan_jobs
from keras_o2v.data.parallel import read_records_parallel

pytestmark = pytest.mark.skipif(not fork_available(),
                                reason="needs the fork start method")

SPEC = RecordSpec({"in0": InputSpec(100, 6), "in1": InputSpec(100, 6)},
                  label="softmax", num_classes=2)


def lines(n, seed=0, blank_every=7):
    """`n` JSON lines, a blank or whitespace line every `blank_every`."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if blank_every and i % blank_every == 3:
            out.append("" if i % 2 else "  \t")
            continue
        row = {"label": int(rng.integers(0, 2)),
               "in0": rng.integers(1, 100, rng.integers(1, 9)).tolist(),
               "in1": rng.integers(1, 100, rng.integers(1, 9)).tolist()}
        if i % 11 == 5:
            row["note"] = True  # JSON booleans: the record-by-record path
        out.append(json.dumps(row))
    return out


def write(path, rows, newline_at_end=True):
    text = "\n".join(rows) + ("\n" if newline_at_end else "")
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)
    return str(path)


def as_lists(chunks):
    """Chunks -> comparable lists (chunk boundaries included)."""
    return [(c.in0.values.tolist(), c.in0.lengths.tolist(),
             c.in1.values.tolist(), c.in1.lengths.tolist(),
             c.labels.tolist(), c.labels.dtype.str) for c in chunks]


def parallel(path, workers=2, range_bytes=300, chunk_lines=5, spec=SPEC):
    return list(read_records_parallel(path, spec, chunk_lines, workers,
                                      range_bytes))


def serial(path, chunk_lines=5, spec=SPEC):
    return list(read_records(path, spec, chunk_lines))


def outcome(read):
    """(chunks yielded, error message or None) of a reading."""
    got = []
    try:
        for chunk in read:
            got.append(chunk)
    except ValueError as e:
        return as_lists(got), str(e)
    return as_lists(got), None


def wait_for_no_children(timeout=10.0):
    deadline = time.monotonic() + timeout
    while multiprocessing.active_children():
        gc.collect()
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return multiprocessing.active_children()


def test_jobs_cut_plain_files_at_line_starts(tmp_path):
    path = write(tmp_path / "a.jsonl", lines(200))
    jobs = plan_jobs([path], range_bytes=300)
    data = open(path, "rb").read()
    assert len(jobs) > 5
    assert jobs[0][1] == 0 and jobs[-1][2] == len(data)
    for (_, _, end), (_, start, _) in zip(jobs, jobs[1:]):
        assert end == start and data[start - 1:start] == b"\n"
    gz = write(tmp_path / "b.jsonl.gz", lines(200))
    assert plan_jobs([gz], range_bytes=300) == [(gz, 0, None)]


@pytest.mark.parametrize("workers,range_bytes,chunk_lines", [
    (1, 300, 5), (2, 300, 5), (3, 97, 4), (2, 10_000, 7), (2, 1 << 20, 1024),
])
def test_same_chunks_as_read_records(tmp_path, workers, range_bytes,
                                     chunk_lines):
    path = write(tmp_path / "a.jsonl", lines(400), newline_at_end=False)
    assert as_lists(parallel(path, workers, range_bytes, chunk_lines)) == (
        as_lists(serial(path, chunk_lines)))


def test_directory_of_plain_and_gz_files(tmp_path):
    directory = tmp_path / "channel"
    directory.mkdir()
    write(directory / "a.jsonl", lines(150, seed=1))
    write(directory / "b.jsonl.gz", lines(300, seed=2))
    write(directory / "c.jsonl", [""] * 4)  # only blank lines
    write(directory / "d.jsonl.gz", lines(40, seed=3))
    expected = as_lists(serial(str(directory)))
    assert as_lists(parallel(str(directory))) == expected
    # Files in another order (a channel's epoch), with their names.
    files = sorted(str(p) for p in directory.iterdir())[::-1]
    reader = ParallelReader(2, range_bytes=300)
    try:
        got = [(f, c) for f, c in reader.read(files, SPEC, 5)]
        assert [f for f, _ in got] == sorted(
            (f for f, _ in got), reverse=True)
        assert as_lists(c for _, c in got) == [
            x for f in files for x in as_lists(serial(f))]
        # The same pool serves the next read.
        pids = [p.pid for p in reader._processes]
        assert as_lists(c for _, c in reader.read(files, SPEC, 5)) == (
            as_lists(c for _, c in got))
        assert [p.pid for p in reader._processes] == pids
    finally:
        reader.close()
    assert not wait_for_no_children()


@pytest.mark.parametrize("bad_line", [1, 2, 6, 23, 24, 25, 26, 61, 149, 150])
def test_first_bad_line_gives_read_records_error(tmp_path, bad_line):
    rows = lines(150, blank_every=0)
    rows[bad_line - 1] = '{"label": 1, "in0": [1], "in1": [100]}'
    if bad_line < 147:
        rows[bad_line + 3] = "{broken"  # a later error is not seen
    path = write(tmp_path / "a.jsonl", rows)
    # Ranges of ~300 bytes: the bad line lies in the 2nd range or later
    # (but line 1), and chunks of 5 lines straddle range ends.
    assert len(plan_jobs([path], 300)) > 5
    expected = outcome(read_records(path, SPEC, 5))
    assert f"line {bad_line}, field `in1`: id 100" in expected[1]
    for workers in (1, 2):
        assert outcome(read_records_parallel(path, SPEC, 5, workers,
                                             300)) == expected


def test_bad_gz_file_in_a_directory(tmp_path):
    directory = tmp_path / "channel"
    directory.mkdir()
    write(directory / "a.jsonl.gz", lines(50))
    rows = lines(80, blank_every=0)
    rows[66] = '{"label": 3, "in0": [1], "in1": [2]}'
    write(directory / "b.jsonl.gz", rows)
    expected = outcome(read_records(str(directory), SPEC, 5))
    assert "b.jsonl.gz, line 67, field `label`" in expected[1]
    assert outcome(read_records_parallel(str(directory), SPEC, 5, 2,
                                         300)) == expected
    truncated = directory / "c.jsonl.gz"
    truncated.write_bytes(gzip.compress(b"\n".join(
        r.encode() for r in lines(100)))[:-30])
    (directory / "b.jsonl.gz").unlink()
    expected = outcome(read_records(str(directory), SPEC, 5))
    assert "truncated gzip file" in expected[1]
    assert outcome(read_records_parallel(str(directory), SPEC, 5, 2,
                                         300)) == expected
    assert not wait_for_no_children()


def test_consumer_stopping_early_leaves_no_child(tmp_path):
    path = write(tmp_path / "a.jsonl", lines(2000))
    reader = ParallelReader(2, range_bytes=300, depth=2)
    read = reader.read([path], SPEC, 5)
    next(read)
    assert len(multiprocessing.active_children()) == 2
    read.close()  # workers mid-job, blocked on full queues
    assert not reader.started
    assert not wait_for_no_children()
    # The next read forks a fresh pool.
    assert as_lists(c for _, c in reader.read([path], SPEC, 5)) == as_lists(
        serial(path))
    del reader
    assert not wait_for_no_children()


def _collect_forever(epoch):
    """An epoch whose process spends its time in a gc callback."""
    gc.callbacks.append(lambda phase, info: time.sleep(0.02))
    yield epoch
    while True:
        gc.collect()


def test_batch_process_stops_when_terminated_in_a_gc_callback():
    # Python ignores an exception raised in a gc callback: a SIGTERM
    # handler that raised SystemExit left the process running until
    # `close()` killed it 5 s later.
    background = BackgroundEpochs(_collect_forever, depth=1)
    items = background.epoch(3)
    assert next(items) == 3
    process = background._process
    start = time.monotonic()
    background.close()
    assert process.exitcode == 0
    assert time.monotonic() - start < 4


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="`workers` must be an integer >= "
                                         "1. Received: workers=0"):
        ParallelReader(0)
    with pytest.raises(ValueError, match="`workers` must be an integer >= "
                                         "0 or 'auto'. Received: "
                                         "workers='many'"):
        JsonlChannel(write(tmp_path / "a.jsonl", lines(3)), SPEC, 4,
                     workers="many")


# === JsonlChannel with workers ===


def channel_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    return [{"label": int(rng.integers(0, 2)),
             "in0": rng.integers(1, 100, rng.integers(1, 9)).tolist(),
             "in1": rng.integers(1, 100, rng.integers(1, 9)).tolist()}
            for _ in range(n)]


def batch_lists(batches):
    return [(x["in0"].tolist(), x["in1"].tolist(), y.tolist())
            for x, y in batches]


def test_channel_batches_do_not_depend_on_workers(tmp_path):
    directory = tmp_path / "channel"
    directory.mkdir()
    write(directory / "a.jsonl", [json.dumps(r) for r in channel_rows(700)])
    write(directory / "b.jsonl.gz",
          [json.dumps(r) for r in channel_rows(300, seed=1)])
    kwargs = {"batch_size": 16, "shuffle_buffer": 64, "seed": 7,
              "chunk_lines": 20, "negative_sampling_rate": 1,
              "bucket_width": 2}
    reference = JsonlChannel(str(directory), SPEC, workers=0, **kwargs)
    assert reference.workers == 0
    expected = [batch_lists(map(reference.as_tensors,
                                reference.batches(e))) for e in range(3)]
    channel = JsonlChannel(str(directory), SPEC, workers=2, **kwargs)
    assert batch_lists(map(channel.as_tensors, channel.batches(1))) == (
        expected[1])
    channel._reader.range_bytes = 500  # many ranges per file
    assert batch_lists(map(channel.as_tensors, channel.batches(2))) == (
        expected[2])
    # tf.data: batches made in a background process, epoch after epoch.
    dataset = channel.as_dataset()
    for epoch in range(3):
        got = [(x, y) for x, y in dataset.as_numpy_iterator()]
        assert batch_lists(got) == expected[epoch]
        assert channel.epoch_records == sum(len(y) for _, y in got)
    channel.next_epoch = 1  # a resumed run: epoch 1 again
    assert batch_lists(dataset.as_numpy_iterator()) == expected[1]
    channel.close()
    assert not wait_for_no_children()


def test_channel_error_and_early_stop_with_workers(tmp_path):
    rows = [json.dumps(r) for r in channel_rows(500)]
    rows[321] = '{"label": 1, "in0": [1], "in1": [100]}'
    path = write(tmp_path / "a.jsonl", rows)
    for on_error in ("raise", "stop"):
        channel = JsonlChannel(path, SPEC, 16, shuffle_buffer=64, seed=0,
                               chunk_lines=20, workers=2)
        dataset = channel.as_dataset(on_error=on_error)
        if on_error == "raise":
            with pytest.raises(Exception):
                list(dataset)
        else:
            list(dataset)
        assert isinstance(channel.error, ValueError)
        assert "line 322, field `in1`: id 100" in str(channel.error)
        channel.close()
    # A pass abandoned after one batch: no process is left behind.
    good = write(tmp_path / "b.jsonl",
                 [json.dumps(r) for r in channel_rows(2000)])
    channel = JsonlChannel(good, SPEC, 16, shuffle_buffer=64, seed=0,
                           chunk_lines=20, workers=2)
    iterator = iter(channel.as_dataset())
    next(iterator)
    assert multiprocessing.active_children()
    del iterator
    assert not wait_for_no_children()
    del channel, dataset
    assert not wait_for_no_children()


def test_small_channel_parsed_once_then_cached(tmp_path):
    path = write(tmp_path / "a.jsonl", [json.dumps(r)
                                        for r in channel_rows(300)])
    channel = JsonlChannel(path, SPEC, 32, seed=5, chunk_lines=40, workers=2)
    epochs = [batch_lists(map(channel.as_tensors, channel.batches(e)))
              for e in range(3)]
    assert channel._cache is not None and channel._reader is None
    assert not wait_for_no_children()  # the pool closed with the cache
    reference = JsonlChannel(path, SPEC, 32, seed=5, chunk_lines=40,
                             workers=0)
    assert epochs == [batch_lists(map(reference.as_tensors,
                                      reference.batches(e)))
                      for e in range(3)]
    # "auto" keeps small channels in-process.
    assert JsonlChannel(path, SPEC, 32).workers == 0
