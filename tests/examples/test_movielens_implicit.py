"""The implicit example's split: what trains, what is ranked, what is
excluded (a small u1 split written here)."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
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


def test_seeds_report_each_run_and_their_mean(data_dir, tmp_path):
    work = tmp_path / "runs"
    out = subprocess.run(
        [sys.executable, EXAMPLE, "--data-dir", data_dir, "--work-dir",
         str(work), "--seeds", "0", "1", "--epochs", "1", "--verbose", "0"],
        check=True, capture_output=True, text=True, timeout=300).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    runs = figures["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    for metric in ("mean_rank", "hit@10_per_relevant", "mrr"):
        values = [r[metric] for r in runs]
        assert figures["model"][metric] == pytest.approx(np.mean(values))
        assert figures["model_std"][metric] == pytest.approx(np.std(values))
    # Each seed its own model; the counts stay counts.
    assert runs[0]["mean_rank"] != runs[1]["mean_rank"]
    assert figures["model"]["queries"] == 2
    assert figures["model"]["relevant"] == 2
    assert "queries" not in figures["model_std"]
    for seed in (0, 1):
        assert (work / f"seed{seed}" / "model.keras").is_file()
        assert (work / f"seed{seed}" / "items.index").exists()
