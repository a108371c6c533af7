import json
import os

import pytest

from keras_o2v.data import RecordSpec
from keras_o2v.data import scan
from keras_o2v.data.jsonl import InputSpec
from keras_o2v.data.prepare import build_vocab
from keras_o2v.data.prepare import parse_label_map
from keras_o2v.data.prepare import prepare
from keras_o2v.data.prepare import tokenize

TRAIN = [
    ("A man is playing a guitar.", "The man plays guitar!", "entailment"),
    ("A dog runs.", "A cat sleeps.", "contradiction"),
    ("Kids, in a park.", "Children play outside", "neutral"),
    ("Nobody agrees", "A man agrees.", "-"),
]


def write_tsv(path, rows, header=("s1", "s2", "gold")):
    with open(path, "w") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    return str(path)


def test_tokenize_is_textvectorization_default():
    assert tokenize(["Hello, World!  It's   a TEST."]) == [
        ["hello", "world", "its", "a", "test"]]


def test_vocab_order_min_frequency_and_max_size():
    tokens = [["b", "a", "a", "c"], ["a", "b", "d"]]
    assert build_vocab(tokens) == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert build_vocab(tokens, min_frequency=2) == ["<pad>", "<unk>", "a",
                                                    "b"]
    assert build_vocab(tokens, max_vocab_size=3) == ["<pad>", "<unk>", "a"]
    with pytest.raises(ValueError, match="`min_frequency` must be"):
        build_vocab(tokens, min_frequency=0)


def test_prepare_round_trip_labels_and_outputs(tmp_path):
    train = write_tsv(tmp_path / "train.tsv", TRAIN)
    test = write_tsv(tmp_path / "test.tsv",
                     [("A zebra plays guitar.", "A man.", "neutral")])
    glove = tmp_path / "glove.txt"
    glove.write_text("man 1 2\nzebra 3 4\nunrelated 5 6\n")
    out = str(tmp_path / "out")
    summary = prepare(train, out, "s1", "s2", "gold", test=test,
                      label_map=parse_label_map(
                          "entailment=0,neutral=1,contradiction=2"),
                      embeddings=str(glove))
    assert sorted(os.listdir(out)) == ["embeddings.txt", "prepare.json",
                                       "test.jsonl", "train.jsonl",
                                       "vocab.json"]
    vocab = json.load(open(os.path.join(out, "vocab.json")))
    assert vocab["<pad>"] == 0 and vocab["<unk>"] == 1
    words = {i: w for w, i in vocab.items()}
    records = [json.loads(line) for line in open(os.path.join(
        out, "train.jsonl"))]
    # The "-" row has no class: skipped and counted.
    assert summary["splits"]["train"]["skipped_no_label"] == 1
    assert [r["label"] for r in records] == [0, 2, 1]
    for (s1, s2, _), record in zip(TRAIN, records):
        assert [words[i] for i in record["in0"]] == tokenize([s1])[0]
        assert [words[i] for i in record["in1"]] == tokenize([s2])[0]
    # Test words outside the training vocab become <unk> (id 1).
    test_record = json.loads(open(os.path.join(out, "test.jsonl")).read())
    assert test_record["in0"][1] == 1  # "zebra"
    assert summary["splits"]["test"]["unk_rate"] == pytest.approx(1 / 6)
    # Only vocab words are kept from the vectors.
    assert open(os.path.join(out, "embeddings.txt")).read() == "man 1 2\n"
    # The outputs are valid training data.
    size = summary["vocab_size"]
    spec = RecordSpec({"in0": InputSpec(size, 50), "in1": InputSpec(size, 50)},
                      label="softmax", num_classes=3)
    assert scan(os.path.join(out, "train.jsonl"), spec).records == 3
    # Extending with words that have vectors keeps "zebra".
    summary = prepare(train, out, "s1", "s2", "gold", test=test,
                      label_map={"neutral": 1, "entailment": 0,
                                 "contradiction": 2},
                      embeddings=str(glove), extend_with_embeddings=True)
    assert summary["splits"]["test"]["unk_rate"] == 0


def test_prepare_errors(tmp_path):
    train = write_tsv(tmp_path / "train.tsv", TRAIN)
    with pytest.raises(ValueError, match="line 2: label 'entailment' is not "
                                         "a number; pass `label_map`"):
        prepare(train, str(tmp_path / "o"), "s1", "s2", "gold")
    with pytest.raises(ValueError, match="no column 'text'"):
        prepare(train, str(tmp_path / "o"), "text", "s2", "gold")
    with pytest.raises(ValueError, match="`label_map` must look like"):
        parse_label_map("a:1")
    assert not os.path.exists(tmp_path / "o" / "prepare.json")
    assert [n for n in os.listdir(tmp_path / "o") if n.startswith(".")] == []
