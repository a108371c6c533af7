"""Real-data MovieLens runs: slow, excluded by default (`pytest -m slow`)."""

import importlib.util
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


def load_example():
    spec = importlib.util.spec_from_file_location("movielens", EXAMPLE)
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
