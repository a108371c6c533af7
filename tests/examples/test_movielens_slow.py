"""Real-data MovieLens runs: slow, excluded by default (`pytest -m slow`)."""

import importlib.util
import json
import os

import pytest

from tests.conftest import SHARED_DATA

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                       "movielens.py")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, "ml-100k")),
                       reason=f"no ml-100k under {SHARED_DATA}"),
]


def load_example(path=EXAMPLE):
    spec = importlib.util.spec_from_file_location(
        os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_writes_the_ua_split(tmp_path):
    movielens = load_example()
    paths = movielens.prepare(SHARED_DATA, str(tmp_path), binary=True)
    counts = {k: sum(1 for _ in open(p)) for k, p in paths.items()}
    assert counts["train"] + counts["validation"] == 90570  # ua.base
    assert counts["test"] == 9430  # ua.test: 10 ratings x 943 users


def test_notebook_protocol_validates_on_ua_test(tmp_path):
    movielens = load_example()
    paths = movielens.prepare(SHARED_DATA, str(tmp_path), binary=False,
                              notebook=True)
    lines = {k: open(p).read().splitlines() for k, p in paths.items()}
    assert len(lines["train"]) == 90570  # all of ua.base
    assert lines["validation"] == lines["test"]
    assert len(lines["test"]) == 9430
    hp = movielens.NOTEBOOK_REGRESSION
    assert (hp["enc_dim"], hp["mlp_dim"], hp["mlp_activation"],
            hp["mini_batch_size"]) == ("1024", "256", "tanh", "64")


@pytest.mark.parametrize("task,metric,bound", [
    ("regression", "test:root_mean_squared_error", 0.95),
    ("classification", "test:accuracy", 0.704),
])
def test_movielens_beats_sagemaker(tmp_path, task, metric, bound):
    movielens = load_example()
    metrics, _ = movielens.run(task, SHARED_DATA, str(tmp_path), seed=0,
                               verbose=0)
    if task == "regression":
        assert metrics[metric] <= bound
    else:
        assert metrics[metric] >= bound


def test_notebook_config_reaches_the_notebooks_figure(tmp_path):
    # SageMaker's early-stopping rule follows the validation MSE down again
    # after the model has memorised the ratings (epoch 10 at seed 0).
    movielens = load_example()
    metrics, _ = movielens.run("regression", SHARED_DATA, str(tmp_path),
                               seed=0, verbose=0, config="notebook")
    assert metrics["test:root_mean_squared_error"] <= 0.956
    assert metrics["best_epoch"] >= 5


def test_feature_fields_hold_every_other_base_rating_and_no_test_one(
        tmp_path):
    features = load_example(EXAMPLE.replace("movielens.py",
                                            "movielens_features.py"))
    from keras_o2v.datasets import movielens as ml

    paths = features.write_channels(SHARED_DATA, "u1", 0, str(tmp_path),
                                    max_history=2000)
    base, test = ml.load_ratings(SHARED_DATA, "u1")
    rating = {(int(u), int(i)): int(r) for u, i, r in base}
    tested = {(int(u), int(i)) for u, i, _ in test}
    rows = {k: [json.loads(line) for line in open(p)]
            for k, p in paths.items()}
    assert len(rows["train"]) + len(rows["validation"]) == len(base)
    for name, records in rows.items():
        for row in records[:300]:
            user, item = row["in0"][0], row["in1"][0]
            history = {(user, i) for i in row["in0_history"]}
            raters = {(u, item) for u in row["in1_raters"]}
            # Every other base rating of the pair's user and movie, with
            # its rating as the weight; never the pair itself or a test one.
            assert history == {p for p in rating if p[0] == user} - {
                (user, item)}
            assert raters == {p for p in rating if p[1] == item} - {
                (user, item)}
            assert not (history | raters) & tested
            assert row["in1_raters_weights"] == [
                rating[(u, item)] for u in row["in1_raters"]]
    # A model reads exactly its declared fields: only those are written.
    paths = features.write_channels(SHARED_DATA, "u1", 0, str(tmp_path),
                                    fields=("in1_raters",))
    assert sorted(json.loads(open(paths["test"]).readline())) == [
        "in0", "in1", "in1_raters", "in1_raters_weights", "label"]
    with pytest.raises(ValueError, match=r"`fields` must be among .*"
                       r"Received: unknown \['in1_genres'\]"):
        features.write_channels(SHARED_DATA, "u1", 0, str(tmp_path),
                                fields=("in1_genres",))


def test_refit_trains_on_train_and_validation_for_the_best_epochs(tmp_path):
    features = load_example(EXAMPLE.replace("movielens.py",
                                            "movielens_features.py"))
    from keras_o2v.datasets import movielens as ml

    rmse, best, _ = features.run(SHARED_DATA, "u1", 0, str(tmp_path),
                                 {"epochs": 2}, 0, refit=True)
    out = tmp_path / "u1-seed0"
    base, _ = ml.load_ratings(SHARED_DATA, "u1")
    with open(out / "train_and_validation.jsonl") as f:
        assert sum(1 for _ in f) == len(base)
    refit = json.loads((out / "autorec_refit" / "metrics.json").read_text())
    assert refit["epochs_completed"] == best + 1
    # The RMSE returned is the refit model's, not the first one's.
    assert rmse == pytest.approx(refit["test:root_mean_squared_error"])
    first = json.loads((out / "autorec" / "metrics.json").read_text())
    assert first["best_epoch"] == best
