import numpy as np
import pytest

from keras_o2v.data import InputSpec
from keras_o2v.data import JsonlChannel
from keras_o2v.data import RecordSpec
from keras_o2v.data import scan
from keras_o2v.data.negative_sampling import make_negatives
from keras_o2v.data.records import Ragged
from keras_o2v.data.records import Records

SPEC = RecordSpec({"in0": InputSpec(100, 8), "in1": InputSpec(100, 8)},
                  label="softmax", num_classes=2)


def rows(n, label=1, seed=0):
    rng = np.random.default_rng(seed)
    return [{"label": label,
             "in0": rng.integers(1, 100, rng.integers(1, 9)).tolist(),
             "in1": [i % 97 + 1] + rng.integers(1, 100,
                                                rng.integers(0, 12)).tolist()}
            for i in range(n)]


def pairs(batches):
    out = []
    for b in batches:
        for a, c, y in zip(b.in0.to_padded(), b.in1.to_padded(), b.labels):
            out.append((tuple(a[a != 0]), tuple(c[c != 0]), int(y)))
    return out


def test_every_record_once_per_epoch_shuffled_and_seeded(write_jsonl):
    data = rows(300)
    path = write_jsonl(data)
    channel = JsonlChannel(path, SPEC, batch_size=32, shuffle_buffer=64,
                           seed=3, chunk_lines=50)
    epoch0, epoch1 = pairs(channel.batches(0)), pairs(channel.batches(1))
    expected = [(tuple(r["in0"]), tuple(r["in1"][:8]), 1) for r in data]
    assert sorted(epoch0) == sorted(expected)
    assert epoch0 != expected and epoch0 != epoch1  # shuffled, new each epoch
    assert pairs(channel.batches(0)) == epoch0  # same seed, same order
    sizes = [len(b) for b in channel.batches(0)]
    assert sizes == [32] * 9 + [12]


def test_small_channel_is_parsed_once_and_batches_do_not_change(
        write_jsonl, monkeypatch):
    import keras_o2v.data.dataset as dataset_module

    reads = []
    real_read = dataset_module.read_records

    def counting_read(*args, **kwargs):
        reads.append(args[0])
        return real_read(*args, **kwargs)

    monkeypatch.setattr(dataset_module, "read_records", counting_read)
    path = write_jsonl(rows(300))
    cached = JsonlChannel(path, SPEC, batch_size=32, seed=5, chunk_lines=40)
    epochs = [pairs(cached.batches(e)) for e in range(3)]
    assert reads == [path]  # epochs 1 and 2 came from memory
    # Same seed, same batches, whether an epoch was parsed or cached.
    fresh = JsonlChannel(path, SPEC, batch_size=32, seed=5, chunk_lines=40,
                         cache=False)
    assert [pairs(fresh.batches(e)) for e in range(3)] == epochs
    assert len(reads) == 4
    # A channel larger than the buffer is streamed again each epoch.
    big = JsonlChannel(path, SPEC, batch_size=32, seed=5, shuffle_buffer=64)
    list(big.batches(0)), list(big.batches(1))
    assert len(reads) == 6


def test_streaming_emits_batches_while_the_buffer_refills(write_jsonl,
                                                          monkeypatch):
    import keras_o2v.data.dataset as dataset_module

    events = []
    real_read = dataset_module.read_records

    def logging_read(*args, **kwargs):
        for chunk in real_read(*args, **kwargs):
            events.append("chunk")
            yield chunk

    monkeypatch.setattr(dataset_module, "read_records", logging_read)
    channel = JsonlChannel(write_jsonl(rows(1000)), SPEC, batch_size=10,
                           shuffle_buffer=200, chunk_lines=20, seed=0)
    for batch in channel.batches():
        events.append(len(batch))
    # After the first fill (10 chunks), each chunk read is followed by
    # about two batches instead of ten batches every five chunks.
    first = events.index(10)
    assert events[:first] == ["chunk"] * 10
    runs, run = [], 0
    for event in events[first:]:
        if event == "chunk":
            runs.append(run)
            run = 0
        else:
            run += 1
    assert max(runs) <= 3
    assert sum(e for e in events if e != "chunk") == 1000


def test_no_shuffle_keeps_file_order_and_drop_remainder(write_jsonl):
    data = rows(70)
    channel = JsonlChannel(write_jsonl(data), SPEC, batch_size=32,
                           shuffle=False, drop_remainder=True)
    got = pairs(channel.batches())
    assert got == [(tuple(r["in0"]), tuple(r["in1"][:8]), 1)
                   for r in data[:64]]


def test_batches_are_padded_per_batch(write_jsonl):
    path = write_jsonl([{"label": 0, "in0": [1, 2], "in1": [3]},
                        {"label": 1, "in0": [4], "in1": [5, 6, 7]}])
    channel = JsonlChannel(path, SPEC, batch_size=2, shuffle=False)
    x, y = channel.as_tensors(next(channel.batches()))
    np.testing.assert_array_equal(x["in0"], [[1, 2], [4, 0]])
    np.testing.assert_array_equal(x["in1"], [[3, 0, 0], [5, 6, 7]])
    np.testing.assert_array_equal(y, [0, 1])


def test_bucketing_groups_similar_lengths(write_jsonl):
    rng = np.random.default_rng(0)
    data = [{"label": 1, "in0": [1] * int(n), "in1": [2]}
            for n in rng.integers(1, 9, 400)]
    channel = JsonlChannel(write_jsonl(data), SPEC, batch_size=20,
                           bucket_width=2, seed=0)
    batches = list(channel.batches())
    assert sum(len(b) for b in batches) == 400
    spread = [np.ptp(b.in0.lengths // 2) for b in batches]
    assert max(spread) <= 1  # a batch spans at most two adjacent buckets
    assert np.mean(spread) < 0.25
    unbucketed = JsonlChannel(channel.path, SPEC, batch_size=20, seed=0)
    assert np.mean([np.ptp(b.in0.lengths) for b in unbucketed.batches()]) > 5


def test_negative_sampling_counts_labels_and_no_accidental_hits(write_jsonl):
    data = rows(200) + rows(50, label=0, seed=1)
    channel = JsonlChannel(write_jsonl(data), SPEC, batch_size=16, seed=0,
                           negative_sampling_rate=3, shuffle_buffer=64)
    got = pairs(channel.batches())
    positives = {(tuple(r["in0"]), tuple(r["in1"][:8])) for r in data[:200]}
    negatives = [p for p in got if p[2] == 0]
    assert len(got) == 250 + 3 * 200
    assert len(negatives) == 50 + 3 * 200
    made = [p for p in negatives if p[:2] not in {
        (tuple(r["in0"]), tuple(r["in1"][:8])) for r in data[200:]}]
    assert len(made) == 600
    # Each made negative pairs a positive's in0 with another record's in1.
    in0_of = {}
    for a, c in positives:
        in0_of.setdefault(a, set()).add(c)
    assert all(c not in in0_of[a] for a, c, _ in made)
    assert channel.num_batches is None
    channel.stats = scan(channel.path, SPEC)
    assert channel.num_batches == -(-850 // 16)


def test_accidental_hits_are_redrawn():
    # Pool of 2 in1 values: half the draws hit and must be redrawn.
    in0 = Ragged(np.array([1, 2], np.int32), np.array([1, 1]))
    in1 = Ragged(np.array([7, 8], np.int32), np.array([1, 1]))
    block = Records(in0, in1, np.array([1, 1], np.int32))
    negatives = make_negatives(block, block, 50,
                               np.random.default_rng(0))
    assert len(negatives) == 100
    np.testing.assert_array_equal(negatives.labels, 0)
    # in0 1 was paired with in1 7, so its negatives all take in1 8.
    got = set(zip(negatives.in0.values.tolist(), negatives.in1.values.tolist()))
    assert got == {(1, 8), (2, 7)}


def test_negative_sampling_without_any_other_in1_is_an_error():
    ids = Ragged(np.array([5, 5], np.int32), np.array([1, 1]))
    block = Records(ids, ids, np.array([1, 1], np.int32))
    with pytest.raises(ValueError, match="no `in1` in the shuffle buffer"):
        make_negatives(block, block, 1, np.random.default_rng(0))


def test_tf_dataset_types_and_cardinality(write_jsonl):
    path = write_jsonl(rows(50))
    spec = RecordSpec(SPEC.inputs, label="regression")
    channel = JsonlChannel(path, spec, batch_size=16,
                           stats=scan(path, spec))
    dataset = channel.as_dataset()
    assert int(dataset.cardinality()) == 4
    x, y = next(iter(dataset))
    assert x["in0"].dtype.name == "int32" and y.dtype.name == "float32"
    assert tuple(y.shape) == (16, 1)
    assert sum(1 for _ in dataset) == 4
    assert channel.epoch_records == 50


def test_bad_record_inside_tf_data_is_kept(write_jsonl):
    path = write_jsonl(rows(5) + [{"label": 1, "in0": [1], "in1": [100]}])
    channel = JsonlChannel(path, SPEC, batch_size=2)
    with pytest.raises(Exception):
        list(channel.as_dataset())
    assert "line 6, field `in1`: id 100" in str(channel.error)


@pytest.mark.parametrize("kwargs,message", [
    ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
    ({"batch_size": 8, "shuffle_buffer": 10}, "`shuffle_buffer` must be at "
                                              "least 2 \\* batch_size = 16"),
])
def test_bad_channel_arguments(write_jsonl, kwargs, message):
    with pytest.raises(ValueError, match=message):
        JsonlChannel(write_jsonl(rows(2)), SPEC, **kwargs)
