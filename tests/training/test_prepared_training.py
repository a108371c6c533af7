"""Prepared data through the commands: `convert`, then `train`, `evaluate`
and tuning read it as they read JSON Lines."""

import json
import os

import pytest

from keras_o2v.cli import main
from keras_o2v.data.synthetic import write_demo_data
from keras_o2v.training import evaluate
from keras_o2v.training import load_model
from keras_o2v.training import train


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    paths = write_demo_data(str(out), num_train=1500)
    with open(paths["hyperparameters"]) as f:
        paths["hp"] = json.load(f)
    for split in ("train", "validation", "test"):
        prepared = str(out / f"{split}.prepared")
        assert main(["convert", "--input", paths[split], "--output",
                     prepared, "--workers", "2", "--records-per-shard",
                     "400"]) == 0
        paths[f"{split}_prepared"] = prepared
    return paths


def test_training_from_prepared_data_matches_json_lines(demo, tmp_path):
    results = {}
    for source in ("", "_prepared"):
        results[source] = train(
            demo["train" + source], demo["hp"],
            validation=demo["validation" + source],
            test=demo["test" + source], seed=0, verbose=0,
            model_dir=str(tmp_path / f"model{source}")).metrics
    jsonl, prepared = results[""], results["_prepared"]
    # Same records, another shuffle: the same quality within noise (seeds
    # move the demo's test accuracy by a few points over 187 pairs).
    assert jsonl["test:accuracy"] > 0.8
    assert prepared["test:accuracy"] > 0.8
    assert prepared["test:accuracy"] == pytest.approx(
        jsonl["test:accuracy"], abs=0.08)
    assert prepared["epochs_completed"] >= 2


def test_evaluate_reads_prepared_data(demo, tmp_path, capsys):
    model_dir = str(tmp_path / "model")
    assert main(["train", "--train", demo["train_prepared"],
                 "--hyperparameters", demo["hyperparameters"], "--set",
                 "epochs=1", "--model-dir", model_dir, "--verbose", "0"]) == 0
    model = load_model(model_dir)
    # The same records in another order: the same mean metrics.
    on_jsonl = evaluate(model, demo["test"])
    on_prepared = evaluate(model, demo["test_prepared"])
    for name, value in on_jsonl.items():
        assert on_prepared[name] == pytest.approx(value, rel=1e-5), name
    capsys.readouterr()
    assert main(["evaluate", "--model-dir", model_dir, "--data",
                 demo["test_prepared"]]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["test:accuracy"] == pytest.approx(
        on_jsonl["accuracy"], rel=1e-5)


def test_convert_refuses_what_train_refuses(demo, tmp_path, capfd):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": 1, "in0": [3], "in1": [4]}\n'
                   '{"label": 1, "in0": [3], "in1": [400]}\n')
    output = tmp_path / "out"
    hp = ["--hyperparameters", demo["hyperparameters"]]
    assert main(["convert", "--input", str(bad), "--output", str(output),
                 *hp]) == 2
    convert_error = capfd.readouterr().err.strip().splitlines()[-1]
    assert main(["train", "--train", str(bad), *hp, "--model-dir",
                 str(tmp_path / "m")]) == 2
    train_error = capfd.readouterr().err.strip().splitlines()[-1]
    assert convert_error == train_error
    assert "bad.jsonl, line 2, field `in1`: id 400" in convert_error
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl"]


def test_a_model_with_a_smaller_vocabulary_is_refused_before_training(
        demo, tmp_path, capfd):
    assert main(["train", "--train", demo["train_prepared"],
                 "--hyperparameters", demo["hyperparameters"], "--set",
                 "enc0_vocab_size=50", "--model-dir",
                 str(tmp_path / "m")]) == 2
    line = capfd.readouterr().err.strip().splitlines()[-1]
    assert "manifest.json: `in0` holds id 199, >= vocab_size=50" in line
    assert "Set `enc0_vocab_size` to at least 200" in line
    assert not (tmp_path / "m").exists()


def test_tuning_reads_prepared_data(demo, tmp_path):
    pytest.importorskip("keras_tuner")
    from keras_o2v.tuning import run_search

    result = run_search(demo["train_prepared"],
                        {**demo["hp"], "epochs": "1"},
                        validation=demo["validation_prepared"],
                        tuning_dir=str(tmp_path / "search"), max_trials=1,
                        seed=0)
    assert os.path.isfile(tmp_path / "search" / "best_hyperparameters.json")
    assert result.best_score is not None
