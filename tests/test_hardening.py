"""Bad input through the CLI: exit status 2, one line naming the file, no
traceback, nothing left that looks complete; outputs that can be written
twice."""

import gzip
import json
import os

import numpy as np
import pytest

import keras_o2v
from keras_o2v import atomic
from keras_o2v.cli import main
from keras_o2v.data.synthetic import write_demo_data
from keras_o2v.training import load_model


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return write_demo_data(str(out), num_train=300)


@pytest.fixture(scope="module")
def model_dir(demo, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model") / "model")
    assert main(["train", "--train", demo["train"], "--hyperparameters",
                 demo["hyperparameters"], "--set", "epochs=1", "--model-dir",
                 path, "--verbose", "0"]) == 0
    return path


def one_error_line(capfd, name):
    """The single `error:` line of stderr; asserts it names `name`."""
    err = capfd.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert name in errors[0]
    return errors[0]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def train_args(demo, train, model_dir, *extra):
    return ["train", "--train", train, "--hyperparameters",
            demo["hyperparameters"], "--set", "epochs=1", "--model-dir",
            model_dir, "--verbose", "0", *extra]


def gz_bytes(demo, cut=None):
    with open(demo["train"], "rb") as f:
        data = gzip.compress(f.read())
    return data[:cut] if cut else data


TRAIN_CASES = {
    "empty": (lambda demo: b"", [], "no records (the channel is empty"),
    "blank": (lambda demo: b"\n  \n\t\n", [], "no records"),
    "empty, streamed": (lambda demo: b"", ["--no-validate-data"],
                        "no records"),
    "not gzip": (lambda demo: b"plain text\n", [], "not a valid gzip file"),
    "truncated gzip": (lambda demo: gz_bytes(demo, 2000), [],
                       "truncated gzip file"),
    "truncated gzip, streamed": (lambda demo: gz_bytes(demo, 2000),
                                 ["--no-validate-data"], "truncated gzip"),
    "bad line, streamed": (
        lambda demo: open(demo["train"], "rb").read() + b'{"label": 0, [\n',
        ["--no-validate-data"], "line 301: malformed JSON"),
    "joined lines": (
        lambda demo: b'{"label":0,"in0":[1\n0],"in1":[1]},'
                     b'{"label":0,"in0":[1],"in1":[1]}\n',
        [], "line 1: malformed JSON"),
}


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_train_bad_input_exits_2_and_leaves_no_model_dir(
        demo, tmp_path, capfd, case):
    make, extra, message = TRAIN_CASES[case]
    name = "train.jsonl.gz" if "gzip" in case else "train.jsonl"
    path = write(tmp_path / name, make(demo))
    model_dir = tmp_path / "model"
    assert main(train_args(demo, path, str(model_dir), *extra)) == 2
    line = one_error_line(capfd, path)
    assert message in line
    assert not model_dir.exists()


def test_failed_train_keeps_a_model_dir_it_did_not_create(demo, tmp_path,
                                                           capfd):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "notes.txt").write_text("mine")
    path = write(tmp_path / "empty.jsonl", b"")
    assert main(train_args(demo, path, str(model_dir))) == 2
    one_error_line(capfd, path)
    assert os.listdir(model_dir) == ["notes.txt"]


@pytest.mark.parametrize("label, shown", [
    ("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"),
    ("1e400", "1e400")])
def test_non_finite_labels_say_json_has_none(demo, tmp_path, capfd, label,
                                             shown):
    path = write(tmp_path / "train.jsonl",
                 b'{"label": 1, "in0": [3], "in1": [4]}\n'
                 + f'{{"label": {label}, "in0": [3], "in1": [4]}}\n'.encode())
    assert main(train_args(demo, path, str(tmp_path / "m"))) == 2
    line = one_error_line(capfd, f"{path}, line 2, field `label`")
    assert f"{shown} is not a JSON number (JSON has no NaN or Infinity" in line
    assert "Valid: an integer class in [0, 1] (output_layer=softmax)" in line


def test_binary_hyperparameters_file_is_named(demo, tmp_path, capfd):
    hp = write(tmp_path / "hp.json", bytes(range(256)))
    assert main(["train", "--train", demo["train"], "--hyperparameters", hp,
                 "--model-dir", str(tmp_path / "m")]) == 2
    assert "must be a UTF-8 JSON object" in one_error_line(capfd, hp)
    assert not (tmp_path / "m").exists()


def predict_args(model_dir, path, output, *extra):
    return ["predict", "--model-dir", model_dir, "--input", path, "--output",
            output, *extra]


@pytest.mark.parametrize("case, data, message", [
    ("joined lines", b'{"in0":[1\n0],"in1":[1]},{"in0":[1],"in1":[1]}\n',
     "line 1: malformed JSON"),
    ("not gzip", b"plain\n", "not a valid gzip file"),
    ("truncated gzip", gzip.compress(b'{"in0": [1], "in1": [2]}\n' * 500)[:60],
     "truncated gzip file"),
])
def test_predict_bad_input_exits_2_and_writes_nothing(
        model_dir, tmp_path, capfd, case, data, message):
    path = write(tmp_path / ("in.jsonl.gz" if "gzip" in case else "in.jsonl"),
                 data)
    output = tmp_path / "out.jsonl"
    assert main(predict_args(model_dir, path, str(output))) == 2
    assert message in one_error_line(capfd, path)
    assert os.listdir(tmp_path) == [os.path.basename(path)]


def test_predict_into_a_missing_directory(model_dir, demo, tmp_path, capfd):
    output = str(tmp_path / "missing" / "x.out")
    assert main(predict_args(model_dir, demo["test"], output)) == 2
    line = one_error_line(capfd, output)
    assert "does not exist. Create it first." in line


def test_predict_output_line_n_answers_input_line_n(model_dir, tmp_path):
    pairs = [{"in0": [i + 1, 2 * i + 3], "in1": [i + 5]} for i in range(7)]
    lines = [json.dumps(p) for p in pairs]
    lines[2:2] = ["", "   "]  # blank lines inside
    path = write(tmp_path / "in.jsonl", ("\n".join(lines) + "\n\n").encode())
    output = tmp_path / "out.jsonl"
    assert main(predict_args(model_dir, path, str(output),
                             "--chunk-lines", "3")) == 0
    out_lines = output.read_text().split("\n")[:-1]
    in_lines = ("\n".join(lines) + "\n\n").split("\n")[:-1]
    assert len(out_lines) == len(in_lines)
    model = load_model(model_dir)
    for inp, out in zip(in_lines, out_lines):
        if not inp.strip():
            assert out == ""
            continue
        want = keras_o2v.predict(model, [json.loads(inp)])[0]
        np.testing.assert_allclose(json.loads(out)["scores"], want,
                                   atol=1e-6)


def test_directory_outputs_can_be_written_twice(model_dir, demo, tmp_path,
                                                capsys):
    items = write(tmp_path / "items.jsonl", b"".join(
        json.dumps({"in1": [i + 1, i + 2], "id": i}).encode() + b"\n"
        for i in range(20)))
    pairs = write(tmp_path / "pairs.tsv", b"a\tb\tlabel\n" + b"".join(
        f"w{i} x\tw{i + 1} y\t{i % 2}\n".encode() for i in range(10)))
    index = str(tmp_path / "items.index")
    projector = str(tmp_path / "projector")
    export = str(tmp_path / "export")
    commands = [
        ["index", "build", "--model-dir", model_dir, "--input", items,
         "--output", index],
        ["visualize", "--model-dir", model_dir, "--input", demo["embed"],
         "--projector-dir", projector],
        ["export", "--model-dir", model_dir, "--export-dir", export],
        ["demo-data", str(tmp_path / "demo"), "--num-train", "100"],
        ["prepare", "--train", pairs, "--out-dir", str(tmp_path / "prep"),
         "--text0", "a", "--text1", "b", "--label", "label"],
        train_args(demo, demo["train"], str(tmp_path / "trained")),
    ]
    for command in commands:
        for _ in range(2):
            assert main(command) == 0, command
    assert sorted(os.listdir(index)) == ["ids.npy", "index.json",
                                         "vectors.npy"]
    assert sorted(os.listdir(os.path.join(export, "object2vec"))) == ["1",
                                                                      "2"]
    assert sorted(os.listdir(tmp_path / "trained")) == [
        "hyperparameters.json", "metrics.json", "model.keras"]
    # Nothing hidden left behind by the replacements.
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
    # An explicit version that exists is refused, not overwritten.
    assert main(["export", "--model-dir", model_dir, "--export-dir", export,
                 "--version", "1"]) == 2


@pytest.mark.parametrize("exchange", [True, False])
def test_atomic_path_replaces_a_directory(tmp_path, monkeypatch, exchange):
    if not exchange:  # the fallback: move aside, move in
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    for n in range(3):
        with atomic.atomic_path(str(target)) as tmp:
            os.makedirs(tmp)
            (tmp_path / tmp / f"file{n}").write_text(str(n))
        assert os.listdir(target) == [f"file{n}"]
    assert os.listdir(tmp_path) == ["out"]
    # A failed write leaves the previous directory as it was.
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(str(target)) as tmp:
            os.makedirs(tmp)
            raise RuntimeError("disk full")
    assert os.listdir(target) == ["file2"]
    assert os.listdir(tmp_path) == ["out"]
