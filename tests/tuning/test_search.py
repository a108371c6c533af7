"""`keras-o2v tune` / `run_search` end to end on tiny data."""

import json
import os

import keras
import pytest

from keras_o2v.cli import main
from keras_o2v.data.synthetic import write_demo_data
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.tuning import Object2VecHyperModel
from keras_o2v.tuning import run_search
from keras_o2v.tuning.search import make_objective

# 1 epoch, small encodings: each trial takes a second or two.
TINY = ["--set", "epochs=1", "--set", "mini_batch_size=32",
        "--range", "enc_dim=4:16"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return write_demo_data(str(out), num_train=200)


def tune_args(demo, tuning_dir, *extra):
    return ["tune", "--train", demo["train"], "--validation",
            demo["validation"], "--hyperparameters", demo["hyperparameters"],
            "--tuning-dir", str(tuning_dir), "--seed", "0", *TINY, *extra]


def test_random_search_end_to_end_and_best_feeds_train(demo, tmp_path,
                                                      capsys):
    tuning_dir = tmp_path / "search"
    code = main(tune_args(demo, tuning_dir, "--test", demo["test"],
                          "--max-trials", "2", "--tuner", "random",
                          "--objective", "validation:cross_entropy"))
    out = capsys.readouterr().out
    assert code == 0
    # One progress line per trial, then the leaderboard.
    assert "[1/2] trial 0 done in" in out and "[2/2] trial 1 done in" in out
    assert "Leaderboard (validation:cross_entropy), top 2 of 2 trials" in out
    assert "best model test:accuracy=" in out
    with open(tuning_dir / "leaderboard.json") as f:
        board = json.load(f)
    assert board["direction"] == "min"
    scores = [row["score"] for row in board["trials"]]
    assert [row["rank"] for row in board["trials"]] == [1, 2]
    assert scores == sorted(scores)
    # The core, and the §1.1 names the demo map leaves unset.
    assert set(board["trials"][0]["hyperparameters"]) == {
        "enc_dim", "dropout", "optimizer", "weight_decay",
        "early_stopping_patience", "early_stopping_tolerance"}
    with open(tuning_dir / "best_hyperparameters.json") as f:
        best = json.load(f)
    assert all(isinstance(v, str) for v in best.values())
    assert best["enc_dim"] == str(board["trials"][0]["hyperparameters"][
        "enc_dim"])
    assert best["epochs"] == "1" and best["mini_batch_size"] == "32"
    best_model = tuning_dir / "best_model"
    assert sorted(os.listdir(best_model)) == [
        "hyperparameters.json", "metrics.json", "model.keras"]
    model = keras.models.load_model(best_model / "model.keras")
    assert model.hyperparameters == resolve_hyperparameters(best)
    with open(best_model / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["validation:cross_entropy"] == pytest.approx(
        scores[0], rel=1e-4)
    assert "test:accuracy" in metrics
    # The best map feeds `keras-o2v train` unchanged.
    model_dir = tmp_path / "retrained"
    assert main(["train", "--train", demo["train"], "--validation",
                 demo["validation"], "--hyperparameters",
                 str(tuning_dir / "best_hyperparameters.json"),
                 "--model-dir", str(model_dir), "--verbose", "0"]) == 0
    with open(model_dir / "hyperparameters.json") as f:
        assert json.load(f) == resolve_hyperparameters(best)


def test_resume_after_interruption_runs_only_unfinished_trials(
        demo, tmp_path, monkeypatch):
    with open(demo["hyperparameters"]) as f:
        base = json.load(f)
    kwargs = dict(validation=demo["validation"],
                  tuning_dir=str(tmp_path / "search"), max_trials=3, seed=1,
                  ranges={"enc_dim": (4, 16)},
                  fixed={"epochs": 1, "mini_batch_size": 32})
    fit = Object2VecHyperModel.fit
    calls = []

    def interrupted_fit(self, hp, model, *args, **fit_kwargs):
        calls.append(dict(hp.values))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the second trial
        return fit(self, hp, model, *args, **fit_kwargs)

    monkeypatch.setattr(Object2VecHyperModel, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        run_search(demo["train"], base, **kwargs)
    trial_file = tmp_path / "search" / "keras_tuner" / "trial_0" / "trial.json"
    first = json.loads(trial_file.read_text())
    assert first["status"] == "COMPLETED"

    calls.clear()
    monkeypatch.setattr(Object2VecHyperModel, "fit",
                        lambda self, hp, model, *a, **k: calls.append(
                            dict(hp.values)) or fit(self, hp, model, *a, **k))
    result = run_search(demo["train"], base, **kwargs)
    # Trial 0 is kept as it was; the cut-off trial 1 runs again, then 2.
    assert result.trials_run == 2 and len(calls) == 2
    assert json.loads(trial_file.read_text()) == first
    assert sorted(row["trial_id"] for row in result.leaderboard) == [
        "0", "1", "2"]
    assert all(row["status"] == "COMPLETED" for row in result.leaderboard)
    # Nothing left to do: a third run trains nothing.
    calls.clear()
    assert run_search(demo["train"], base, **kwargs).trials_run == 0
    assert calls == []
    # A different search in the same directory is refused, not mixed in.
    with pytest.raises(ValueError, match="holds a different search"):
        run_search(demo["train"], base, **{**kwargs,
                                           "ranges": {"enc_dim": (4, 32)}})


def test_hyperband_sets_epochs(demo, tmp_path, capsys):
    code = main(tune_args(demo, tmp_path / "hb", "--tuner", "hyperband",
                          "--max-trials", "1", "--set", "epochs=3"))
    assert code == 0
    board = json.loads((tmp_path / "hb" / "leaderboard.json").read_text())
    (row,) = board["trials"]
    # Hyperband's first bracket trains for max_epochs / factor = 1 epoch.
    assert row["hyperparameters"]["epochs"] == 1 and row["best_epoch"] == 0
    assert "[1/1] trial 0 done in" in capsys.readouterr().out


def test_cli_errors(demo, tmp_path, capsys):
    assert main(tune_args(demo, tmp_path, "--objective",
                          "validation:mean_squared_error")) == 2
    assert "needs output_layer='mean_squared_error'" in capsys.readouterr().err
    assert main(tune_args(demo, tmp_path, "--range", "enc_dim")) == 2
    assert "`--range` must look like" in capsys.readouterr().err
    assert main(tune_args(demo, tmp_path, "--range", "enc0_vocab_size=2:5")
                ) == 2
    assert "is a fact of the problem" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --overwrite or --resume
        main(tune_args(demo, tmp_path, "--overwrite", "--resume"))


def test_objectives_map_to_keras_logs():
    objective = make_objective("validation:accuracy", "softmax")
    assert (objective.name, objective.direction) == ("val_accuracy", "max")
    objective = make_objective("validation:mean_squared_error",
                               "mean_squared_error")
    assert (objective.name, objective.direction) == (
        "val_mean_squared_error", "min")
    with pytest.raises(ValueError, match="`objective` must be one of"):
        make_objective("test:accuracy", "softmax")
