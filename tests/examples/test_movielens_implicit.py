"""The implicit example's split: what trains, what is ranked, what is
excluded (a small u1 split written here)."""

import importlib.util
import os

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                       "movielens_implicit.py")

BASE = [(1, 10, 5), (1, 11, 3), (1, 12, 2), (2, 10, 4), (2, 13, 1)]
TEST = [(1, 13, 4), (1, 14, 3), (2, 11, 5), (2, 10, 5)]


@pytest.fixture
def implicit():
    spec = importlib.util.spec_from_file_location("movielens_implicit",
                                                  EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name, rows in (("u1.base", BASE), ("u1.test", TEST)):
        (folder / name).write_text("".join(
            f"{u}\t{i}\t{r}\t881250949\n" for u, i, r in rows))
    return str(tmp_path)


@pytest.mark.parametrize("min_rating,trained", [
    (4, [(1, 10), (2, 10)]),
    (3, [(1, 10), (1, 11), (2, 10)]),
    (1, [(1, 10), (1, 11), (1, 12), (2, 10), (2, 13)]),
])
def test_min_rating_sets_the_train_pairs_only(implicit, data_dir, min_rating,
                                              trained):
    positives, seen, targets = implicit.load_split(data_dir,
                                                   min_rating=min_rating)
    assert [tuple(p[:2]) for p in positives] == trained
    # Seen items and targets do not depend on `min_rating`: every base
    # rating is excluded, and targets are the test ratings >= 4 not seen.
    assert seen == {1: {10, 11, 12}, 2: {10, 13}}
    assert dict(targets) == {1: {13}, 2: {11}}
