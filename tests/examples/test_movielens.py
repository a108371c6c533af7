"""examples/movielens.py on a small ua split written here (fast)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                       "movielens.py")


@pytest.fixture
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name, n in (("ua.base", 200), ("ua.test", 20)):
        users = rng.integers(1, 30, n)
        items = rng.integers(1, 50, n)
        ratings = rng.integers(1, 6, n)
        (folder / name).write_text("".join(
            f"{u}\t{i}\t{r}\t881250949\n"
            for u, i, r in zip(users, items, ratings)))
    return str(tmp_path)


def test_seeds_print_each_run_and_their_mean(data_dir, tmp_path):
    work = tmp_path / "runs"
    out = subprocess.run(
        [sys.executable, EXAMPLE, "--data-dir", data_dir, "--work-dir",
         str(work), "--task", "regression", "--seeds", "0", "1",
         "--set", "epochs=2", "--verbose", "0"],
        check=True, capture_output=True, text=True, timeout=300).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    runs = figures["regression_runs"]
    assert figures["seeds"] == [r["seed"] for r in runs] == [0, 1]
    values = [r["test_rmse"] for r in runs]
    assert values[0] != values[1]  # each seed its own split and model
    assert figures["test_rmse"] == pytest.approx(np.mean(values))
    assert figures["test_rmse_std"] == pytest.approx(np.std(values))
    assert "over seeds [0, 1]: mean" in out
    for seed in (0, 1):  # one model per seed, none overwritten
        assert (work / f"seed{seed}" / "regression" / "model" /
                "model.keras").is_file()


def test_one_seed_keeps_its_figure_and_folder(data_dir, tmp_path):
    work = tmp_path / "runs"
    out = subprocess.run(
        [sys.executable, EXAMPLE, "--data-dir", data_dir, "--work-dir",
         str(work), "--task", "regression", "--seed", "1",
         "--set", "epochs=1", "--verbose", "0"],
        check=True, capture_output=True, text=True, timeout=300).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["seeds"] == [1]
    assert "regression_runs" not in figures and "over seeds" not in out
    assert (work / "regression" / "model" / "model.keras").is_file()


def test_a_bad_override_is_a_usage_error(data_dir):
    out = subprocess.run(
        [sys.executable, EXAMPLE, "--data-dir", data_dir, "--set", "epochs"],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert "`--set` must look like name=value. Received: --set 'epochs'" \
        in out.stderr
