import collections
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_o2v.data import InputSpec
from keras_o2v.data import JsonlChannel
from keras_o2v.data import RecordSpec
from keras_o2v.data import read_records
from keras_o2v.data.prepared import MANIFEST
from keras_o2v.data.prepared import PreparedChannel
from keras_o2v.data.prepared import convert
from keras_o2v.data.prepared import is_prepared

SPEC = RecordSpec({"in0": InputSpec(100, 8), "in1": InputSpec(100, 8)},
                  label="softmax", num_classes=2)


def rows(n, seed=0):
    rng = np.random.default_rng(seed)
    return [{"label": int(rng.integers(0, 2)),
             "in0": rng.integers(1, 100, rng.integers(1, 9)).tolist(),
             "in1": [i % 97 + 1] + rng.integers(1, 100,
                                                rng.integers(0, 12)).tolist()}
            for i in range(n)]


def triples(dataset):
    out = []
    for x, y in dataset:
        for a, b, label in zip(x["in0"].numpy(), x["in1"].numpy(),
                               y.numpy()):
            out.append((int(label), tuple(a[a != 0]), tuple(b[b != 0])))
    return out


def expected(path, spec=SPEC):
    out = []
    for chunk in read_records(path, spec):
        for a, b, label in zip(chunk.in0.to_padded(), chunk.in1.to_padded(),
                               chunk.labels):
            out.append((int(label), tuple(a[a != 0]), tuple(b[b != 0])))
    return out


@pytest.fixture
def prepared(write_jsonl, tmp_path):
    """(JSON Lines path, prepared dir) of 300 records in several shards."""
    source = write_jsonl(rows(300))
    out = str(tmp_path / "prepared")
    convert(source, out, SPEC, records_per_shard=50, block_records=25)
    return source, out


def channel(path, **kwargs):
    kwargs = {"batch_size": 32, "shuffle_buffer": 64, "seed": 3, **kwargs}
    return PreparedChannel(path, SPEC, **kwargs)


def test_one_epoch_is_the_json_lines_records_truncated(prepared):
    source, out = prepared
    assert is_prepared(out) and not is_prepared(source)
    manifest = json.load(open(os.path.join(out, MANIFEST)))
    assert manifest["records"] == 300 and len(manifest["shards"]) == 6
    assert manifest["max_len"]["in1"] == 12  # stored whole
    ch = channel(out)
    got = triples(ch.as_dataset())
    assert collections.Counter(got) == collections.Counter(expected(source))
    assert ch.num_batches == 10 and ch.epoch_records == 300
    assert ch.stats.records == 300 and ch.stats.max_len1 == 8


def test_values_over_16_bits_round_trip_in_the_blocks_that_hold_them(
        write_jsonl, tmp_path):
    # Lengths and ids are stored as uint16 halves; only blocks holding a
    # value over 65535 carry the high halves, so windows mix both kinds.
    from keras_o2v.data import FieldSpec

    spec = RecordSpec({"in0": InputSpec(2**20, 8), "in1": InputSpec(100, 4)},
                      label="softmax", num_classes=2,
                      fields={"in0_tags": FieldSpec(2**18, 3, weighted=True)})
    data = rows(100)
    for i, row in enumerate(data):
        row["in0_tags"] = [i + 1, 7 * i + 2]
        row["in0_tags_weights"] = [0.5, i / 4]
        if 40 <= i < 50:  # the third block of 20 only
            row["in0"] = [65536 + i, 2**20 - 1 - i, 65535, 3]
            row["in0_tags"] = [2**18 - 1 - i, 70000]
    data[5]["in1"] = [i % 99 + 1 for i in range(70000)]  # over 65535 long
    source = write_jsonl(data)
    out = str(tmp_path / "prepared")
    manifest = convert(source, out, spec, records_per_shard=40,
                       block_records=20)
    assert manifest["max_id"]["in0"] == 2**20 - 41
    assert manifest["max_len"]["in1"] == 70000

    blocks = [tf.train.Example.FromString(raw.numpy()).features.feature
              for shard in manifest["shards"]
              for raw in tf.data.TFRecordDataset(os.path.join(out,
                                                              shard["file"]))]
    assert [sorted(k for k in b if k.endswith(":hi")) for b in blocks] == [
        ["len1:hi"], [], ["ids0:hi", "val:in0_tags:hi"], [], []]
    # Weights share their ids' lengths; small ids take 2 bytes each.
    assert "len:in0_tags_weights" not in blocks[0]
    assert len(blocks[1]["ids0"].bytes_list.value[0]) == 2 * sum(
        len(r["in0"]) for r in data[20:40])

    def records(dataset):
        out = []
        for x, y in dataset:
            x = {k: v.numpy() for k, v in x.items()}
            for i, label in enumerate(y.numpy()):
                tags = x["in0_tags"][i]
                out.append((int(label), tuple(x["in0"][i][x["in0"][i] != 0]),
                            tuple(x["in1"][i][x["in1"][i] != 0]),
                            tuple(tags[tags != 0]),
                            tuple(x["in0_tags_weights"][i][tags != 0])))
        return sorted(out)

    want = records(JsonlChannel(source, spec, 16).as_dataset())
    got = records(PreparedChannel(out, spec, 16, shuffle_buffer=40,
                                  seed=0).as_dataset())
    assert got == want and len(got) == 100
    row = data[40]
    assert (row["label"], (65576, 2**20 - 41, 65535, 3), tuple(row["in1"][:4]),
            (2**18 - 41, 70000), (0.5, 10.0)) in got
    assert (data[5]["label"], tuple(data[5]["in0"]), (1, 2, 3, 4),
            (6, 37), (0.5, 1.25)) in got


def test_element_spec_and_padding_match_jsonl_channel(prepared):
    source, out = prepared
    jsonl = JsonlChannel(source, SPEC, batch_size=32)
    dataset = channel(out).as_dataset()
    assert dataset.element_spec == jsonl.as_dataset().element_spec
    assert dataset.cardinality() == 10
    for x, y in dataset:
        for ids in (x["in0"].numpy(), x["in1"].numpy()):
            # Padded to the longest row of the batch, no wider.
            assert (ids[:, -1] != 0).any()
            assert ids.dtype == np.int32
        assert y.dtype == tf.int32


def test_regression_labels_are_float_columns(write_jsonl, tmp_path):
    data = [{"label": 0.5 * i, "in0": [1, 2], "in1": [3]} for i in range(10)]
    spec = RecordSpec(SPEC.inputs, label="regression")
    out = str(tmp_path / "p")
    convert(write_jsonl(data), out, spec)
    ch = PreparedChannel(out, spec, batch_size=4, shuffle=False)
    batches = list(ch.as_dataset())
    assert batches[0][1].shape == (4, 1) and batches[0][1].dtype == tf.float32
    assert [float(v) for _, y in batches for v in y[:, 0]] == [
        0.5 * i for i in range(10)]
    # Non-integer labels cannot feed a softmax model.
    with pytest.raises(ValueError, match="not all integers"):
        PreparedChannel(out, SPEC, batch_size=4)


def test_shuffle_differs_per_epoch_and_repeats_with_seed(prepared):
    _, out = prepared
    ch = channel(out)
    dataset = ch.as_dataset()
    epoch0, epoch1 = triples(dataset), triples(dataset)
    assert epoch0 != epoch1 and sorted(epoch0) == sorted(epoch1)
    again = channel(out)
    assert triples(again.as_dataset()) == epoch0
    again.next_epoch = 1  # a resumed run
    assert triples(again.as_dataset()) == epoch1
    unshuffled = channel(out, shuffle=False)
    assert triples(unshuffled.as_dataset()) == triples(
        unshuffled.as_dataset())


def test_bucketing_keeps_batch_lengths_close(write_jsonl, tmp_path):
    data = [{"label": 1, "in0": [1] * (1 + i % 8), "in1": [2]}
            for i in range(512)]
    out = str(tmp_path / "p")
    convert(write_jsonl(data), out, SPEC)
    ch = PreparedChannel(out, SPEC, batch_size=32, shuffle_buffer=512,
                         bucket_width=2, seed=0, drop_remainder=True)
    for x, _ in ch.as_dataset():
        lengths = (x["in0"].numpy() != 0).sum(axis=1)
        assert lengths.max() // 2 == lengths.min() // 2


def test_bucketed_batches_stay_aligned_across_windows(write_jsonl,
                                                      tmp_path):
    # Windows of 256 records + 256 negatives, batches of 48: the whole
    # epoch arrives, the batch count is exact, and bucketed batches start
    # on batch boundaries although no window holds a whole number of them.
    data = [{"label": 1, "in0": [1] * (1 + i % 8), "in1": [2 + i % 50]}
            for i in range(1024)]
    out = str(tmp_path / "p")
    convert(write_jsonl(data), out, SPEC, block_records=64)
    ch = PreparedChannel(out, SPEC, batch_size=48, shuffle_buffer=256,
                         bucket_width=2, negative_sampling_rate=1, seed=0)
    mixed = batches = records = 0
    for x, _ in ch.as_dataset():
        lengths = (x["in0"].numpy() != 0).sum(axis=1)
        mixed += lengths.max() // 2 != lengths.min() // 2
        batches += 1
        records += len(lengths)
    assert records == ch.epoch_records == 2048
    assert batches == ch.num_batches == 43
    # Sorted buckets of 128 rows or so straddle batches of 48 (4 bucket
    # edges a window) and one batch a window boundary: at most 5 a window.
    # Cut out of step with the windows, nearly every batch would mix.
    assert mixed <= 20


def test_negative_sampling_adds_rate_negatives_per_positive(prepared):
    source, out = prepared
    data = expected(source)
    positives = sum(1 for label, _, _ in data if label)
    ch = channel(out, negative_sampling_rate=2, shuffle_buffer=300)
    got = triples(ch.as_dataset())
    assert len(got) == len(data) + 2 * positives == ch.epoch_records
    assert ch.num_batches == -(-len(got) // 32)
    originals = collections.Counter(data)
    negatives = collections.Counter(got) - originals
    assert sum(negatives.values()) == 2 * positives
    positive_in0 = {a for label, a, _ in data if label}
    positive_pairs = {(a, b) for label, a, b in data if label}
    for label, a, b in negatives.elements():
        assert label == 0 and a in positive_in0
        assert (a, b) not in positive_pairs  # no accidental hit


def test_shards_partition_the_records(prepared):
    source, out = prepared
    parts = [triples(channel(out, num_shards=3, shard_index=i).as_dataset())
             for i in range(3)]
    assert all(parts)
    assert collections.Counter(sum(parts, [])) == collections.Counter(
        expected(source))
    with pytest.raises(ValueError, match="needs at least that many shard"):
        channel(out, num_shards=7)


def test_two_workers_give_the_same_records(write_jsonl, tmp_path):
    source = write_jsonl([{"label": 1, "in0": [i % 99 + 1], "in1": [2, 3]}
                          for i in range(30000)])
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    convert(source, one, SPEC)
    manifest = convert(source, two, SPEC, workers=2)
    assert len({s["file"][:11] for s in manifest["shards"]}) == 2  # split
    read = [triples(channel(p, batch_size=1024, shuffle_buffer=4096)
                    .as_dataset()) for p in (one, two)]
    assert collections.Counter(read[0]) == collections.Counter(read[1])
    assert len(read[0]) == 30000


@pytest.mark.parametrize("workers", [1, 2])
def test_invalid_json_lines_write_nothing(write_jsonl, tmp_path, workers):
    good = [{"label": 1, "in0": [1], "in1": [2]}] * 40000
    source = write_jsonl(good + [{"label": 1, "in0": [1], "in1": [200]}]
                         + good)
    with pytest.raises(ValueError) as reference:
        list(read_records(source, SPEC))
    assert "line 40001" in str(reference.value)
    out = str(tmp_path / "p")
    with pytest.raises(ValueError) as error:
        convert(source, out, SPEC, workers=workers)
    assert str(error.value) == str(reference.value)
    assert sorted(os.listdir(tmp_path)) == ["data.jsonl"]


def test_converting_twice_replaces_the_output(prepared, write_jsonl):
    _, out = prepared
    convert(write_jsonl(rows(40, seed=1), name="b.jsonl"), out, SPEC)
    assert channel(out).stats.records == 40
    assert len([f for f in os.listdir(out) if f.endswith(".tfrecord")]) == 1


def edit_manifest(out, **changes):
    path = os.path.join(out, MANIFEST)
    manifest = json.load(open(path))
    manifest.update(changes)
    json.dump(manifest, open(path, "w"))


def first_shard(out):
    name = json.load(open(os.path.join(out, MANIFEST)))["shards"][0]["file"]
    return os.path.join(out, name)


def test_bad_prepared_data_is_named_before_training(prepared):
    _, out = prepared
    shard = first_shard(out)
    data = open(shard, "rb").read()
    open(shard, "wb").write(data[:-7])
    with pytest.raises(ValueError, match=f"{shard}: .* bytes, the manifest "
                       "says .*truncated.*keras-o2v convert"):
        channel(out)
    open(shard, "wb").write(data[:-7] + b"x" * 7)
    with pytest.raises(ValueError, match="sha256 differs"):
        channel(out)
    channel(out, verify=False)  # sizes only
    os.remove(shard)
    with pytest.raises(ValueError, match=f"{shard}: shard listed .* missing"):
        channel(out)
    edit_manifest(out, version=99)
    with pytest.raises(ValueError, match="format version 99.*reconvert|"
                       "format version 99.*convert"):
        channel(out)
    with pytest.raises(ValueError, match="not prepared data"):
        channel(os.path.dirname(out))


def test_spec_that_cannot_read_the_data(prepared):
    _, out = prepared
    small = RecordSpec({"in0": InputSpec(50, 8), "in1": InputSpec(100, 8)},
                       label="softmax", num_classes=2)
    with pytest.raises(ValueError, match="`in0` holds id 9[0-9].*"
                       "`enc0_vocab_size` to at least"):
        PreparedChannel(out, small, batch_size=8)
    edit_manifest(out, labels={"min": 0, "max": 4, "integer": True,
                               "histogram": None})
    with pytest.raises(ValueError, match="outside \\[0, 1\\].*`num_classes` "
                       "to at least 5"):
        PreparedChannel(out, SPEC, batch_size=8)


@pytest.mark.parametrize("on_error", ["raise", "stop"])
def test_shard_truncated_after_opening(prepared, on_error):
    _, out = prepared
    ch = channel(out, shuffle=False)
    dataset = ch.as_dataset(on_error=on_error)
    shard = first_shard(out)
    open(shard, "wb").write(open(shard, "rb").read()[:-7])
    # "stop" ends the pass early, which the declared cardinality then
    # reports (as JsonlChannel's does); training raises `ch.error` instead.
    with pytest.raises(tf.errors.OpError):
        list(dataset)
    assert isinstance(ch.error, ValueError)
    assert shard in str(ch.error) and "truncated" in str(ch.error)


def test_bad_arguments(prepared):
    _, out = prepared
    with pytest.raises(ValueError, match="`on_error` must be"):
        channel(out).as_dataset(on_error="skip")
    with pytest.raises(ValueError, match="`shuffle_buffer` must be"):
        channel(out, shuffle_buffer=10)
    with pytest.raises(ValueError, match="`workers` must be an integer"):
        convert(prepared[0], out, SPEC, workers=0)
