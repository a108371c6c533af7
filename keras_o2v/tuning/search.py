"""`run_search`: a resumable KerasTuner search with SageMaker-style outputs.

A search directory (`tuning_dir`) holds:

* `search.json` — what the search is (tuner, objective, hyperparameters and
  plan), written when it starts; a later run resumes only a matching search;
* `keras_tuner/` — KerasTuner's project: `oracle.json`, one `trial_*` folder
  per trial with its hyperparameters, score and best-epoch weights;
* when the search ends, written atomically in this order:
  `best_model/` (`model.keras`, `hyperparameters.json`, `metrics.json`, as
  `keras-o2v train` writes), `leaderboard.json`, then
  `best_hyperparameters.json` — a SageMaker-style string map that
  `keras-o2v train --hyperparameters` accepts unchanged. A run removes the
  last two when it starts: they exist only beside a finished search.

Distributed tuning uses KerasTuner's own chief/worker protocol: with
`KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT` and `KERASTUNER_TUNER_ID`
set, the process whose tuner id contains `"chief"` serves the oracle and
writes the outputs; the others run trials (see `tuning/README.md`).
"""

import dataclasses
import importlib.util
import json
import logging
import os
import shutil
import time
import warnings

import keras_tuner

from keras_o2v.data import RecordSpec
from keras_o2v.training import evaluate
from keras_o2v.atomic import save_model_atomic
from keras_o2v.atomic import write_json_atomic
from keras_o2v.training.train import HYPERPARAMETERS_FILE
from keras_o2v.training.train import METRICS_FILE
from keras_o2v.training.train import MODEL_FILE
from keras_o2v.training.train import metric_names
from keras_o2v.tuning.hypermodel import Object2VecHyperModel
from keras_o2v.version import __version__

# Progress, the leaderboard and the best trial go to this logger at INFO:
# `keras-o2v tune` prints them on stdout (cli.main's handler); in Python,
# `logging.basicConfig(level=logging.INFO)` shows them.
logger = logging.getLogger(__name__)

# SageMaker objective -> (Keras log key, direction, output_layer it needs).
OBJECTIVES = {
    "validation:mean_squared_error": ("val_mean_squared_error", "min",
                                      "mean_squared_error"),
    "validation:accuracy": ("val_accuracy", "max", "softmax"),
    "validation:cross_entropy": ("val_cross_entropy", "min", "softmax"),
}
TUNERS = ("random", "bayesian", "hyperband")
PROJECT = "keras_tuner"
SEARCH_FILE = "search.json"
LEADERBOARD_FILE = "leaderboard.json"
BEST_HYPERPARAMETERS_FILE = "best_hyperparameters.json"
BEST_MODEL_DIR = "best_model"
# Trials whose loss diverges (a wide learning-rate range makes some) fail
# alone; this many failures in a row stop the search.
MAX_CONSECUTIVE_FAILED_TRIALS = 10


@dataclasses.dataclass
class SearchResult:
    """What `run_search` returns.

    Attributes:
        best_hyperparameters: dict. The best trial's SageMaker string map
            (None on a worker, which does not see the results).
        best_score: float. The best objective value.
        leaderboard: list of dicts, best first (see `leaderboard.json`).
        trials_run: int. Trials this call ran (0 on the chief, whose workers
            run them).
        metrics: dict. Validation (and test) metrics of the best model.
        tuner: the KerasTuner tuner.
    """

    best_hyperparameters: dict
    best_score: float
    leaderboard: list
    trials_run: int
    metrics: dict
    tuner: object


def default_objective(output_layer):
    """`validation:accuracy` for softmax, else the validation MSE."""
    if output_layer == "softmax":
        return "validation:accuracy"
    return "validation:mean_squared_error"


def make_objective(objective, output_layer):
    """`keras_tuner.Objective` for a SageMaker objective metric name."""
    if objective not in OBJECTIVES:
        raise ValueError(f"`objective` must be one of {list(OBJECTIVES)}. "
                         f"Received: objective={objective!r}")
    key, direction, needs = OBJECTIVES[objective]
    if needs != output_layer:
        raise ValueError(
            f"`objective={objective!r}` needs output_layer={needs!r}, but "
            f"the hyperparameters set output_layer={output_layer!r}. Valid "
            f"objectives here: "
            f"{[o for o, v in OBJECTIVES.items() if v[2] == output_layer]}")
    return keras_tuner.Objective(key, direction)


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _tuned_values(trial, dimensions):
    """The trial's values of the tuned names (active ones), in order."""
    values = trial.hyperparameters.values
    shown = {name: values[name] for name in dimensions if name in values}
    if "tuner/epochs" in values:  # Hyperband's budget for this trial
        shown["epochs"] = values["tuner/epochs"]
    return shown


def _error_line(message):
    """The last line of a trial's message (its traceback ends there)."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


class _Reporting:
    """Tuner mixin: a progress line per trial, no model builds to explore.

    KerasTuner builds a model for every conditional scope it wants to see
    before the search; `Object2VecHyperModel.declare_hyperparameters`
    registers them all without building, so `_populate_initial_space`
    skips that step.
    """

    def __init__(self, *args, objective_name, dimensions, **kwargs):
        self._objective_name = objective_name
        self._dimensions = dimensions
        self._started = {}
        self.trials_run = 0
        super().__init__(*args, **kwargs)

    def _populate_initial_space(self):
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def on_trial_begin(self, trial):
        self._started[trial.trial_id] = time.monotonic()
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.trials_run += 1
        seconds = time.monotonic() - self._started.pop(trial.trial_id,
                                                       time.monotonic())
        done = self.oracle.get_trial(trial.trial_id)
        total = self.oracle.max_trials
        number = (f"[{int(trial.trial_id) + 1}/{total}] " if total
                  else "")
        head = f"{number}trial {trial.trial_id}"
        values = " ".join(f"{k}={_format(v)}" for k, v in _tuned_values(
            done, self._dimensions).items())
        if done.status == "COMPLETED":
            best = self.oracle.get_best_trials(1)[0]
            line = (f"{head} done in {seconds:.0f}s: {self._objective_name}="
                    f"{done.score:.6g} (best {best.score:.6g}, trial "
                    f"{best.trial_id}) | {values}")
        else:
            # A trial that ran but scored NaN (diverged) has no message.
            reason = _error_line(done.message or "the objective is NaN")
            line = (f"{head} {done.status} after {seconds:.0f}s: {reason} | "
                    f"{values}")
        logger.info(line)


class _RandomSearch(_Reporting, keras_tuner.RandomSearch):
    pass


class _BayesianOptimization(_Reporting, keras_tuner.BayesianOptimization):
    pass


class _Hyperband(_Reporting, keras_tuner.Hyperband):
    pass


def is_worker():
    """True in a distributed search on a process that runs trials."""
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    return ("KERASTUNER_ORACLE_IP" in os.environ
            and "chief" not in tuner_id)


def is_chief():
    """True in a distributed search on the process that serves the oracle."""
    return ("KERASTUNER_ORACLE_IP" in os.environ
            and "chief" in os.environ.get("KERASTUNER_TUNER_ID", ""))


def _clear(tuning_dir):
    """Deletes what a search wrote in `tuning_dir` (nothing else)."""
    for name in (PROJECT, BEST_MODEL_DIR):
        path = os.path.join(tuning_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
    for name in (SEARCH_FILE, LEADERBOARD_FILE, BEST_HYPERPARAMETERS_FILE):
        path = os.path.join(tuning_dir, name)
        if os.path.exists(path):
            os.remove(path)


def _check_resumable(tuning_dir, description):
    """Writes `search.json`, or checks that it matches `description`."""
    path = os.path.join(tuning_dir, SEARCH_FILE)
    if not os.path.exists(path):
        write_json_atomic(path, description)
        return False
    with open(path) as f:
        previous = json.load(f)
    differ = sorted(key for key in set(previous) | set(description)
                    if key != "keras_o2v"
                    and previous.get(key) != description.get(key))
    if differ:
        raise ValueError(
            f"`tuning_dir` {tuning_dir!r} holds a different search (it "
            f"differs in {differ}; see {path}). Pass overwrite=True "
            f"(`--overwrite`) to start afresh, or use another directory.")
    return True


def _make_tuner(kind, hypermodel, objective, max_trials, tuning_dir, seed,
                reporting):
    common = dict(hypermodel=hypermodel, objective=objective, seed=seed,
                  directory=tuning_dir, project_name=PROJECT,
                  overwrite=False,
                  max_consecutive_failed_trials=MAX_CONSECUTIVE_FAILED_TRIALS,
                  **reporting)
    if kind == "random":
        return _RandomSearch(max_trials=max_trials, **common)
    if kind == "bayesian":
        # KerasTuner's default, 3 random trials per declared name (fixed
        # ones included), would make most searches purely random.
        dimensions = len(hypermodel.plan.dimensions)
        initial = max(3, min(2 * dimensions, max_trials // 2))
        try:
            return _BayesianOptimization(max_trials=max_trials,
                                         num_initial_points=initial, **common)
        except ImportError as e:
            raise ValueError(
                "`tuner='bayesian'` needs scikit-learn and scipy: pip install "
                f"'keras-o2v[tuning]' ({e})") from None
    if kind == "hyperband":
        epochs = hypermodel.resolved_default["epochs"]
        tuner = _Hyperband(max_epochs=epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials  # a cap on Hyperband's trials
        return tuner
    raise ValueError(f"`tuner` must be one of {list(TUNERS)}. Received: "
                     f"tuner={kind!r}")


def leaderboard(oracle, dimensions):
    """Every trial, completed ones first and best first."""
    trials = sorted(oracle.trials.values(), key=lambda t: t.trial_id)
    completed = oracle.get_best_trials(len(trials)) if trials else []
    completed = [t for t in completed if t.status == "COMPLETED"]
    others = [t for t in trials if t.status != "COMPLETED"]
    rows = []
    for rank, trial in enumerate(completed + others, start=1):
        ok = trial.status == "COMPLETED"
        rows.append({
            "rank": rank if ok else None,
            "trial_id": trial.trial_id,
            "status": trial.status,
            "score": trial.score if ok else None,
            "best_epoch": trial.best_step if ok else None,
            "hyperparameters": _tuned_values(trial, dimensions),
        })
    return rows


def format_leaderboard(rows, objective_name, top=10):
    """The leaderboard as text: the `top` completed trials."""
    ranked = [row for row in rows if row["rank"] is not None][:top]
    failed = sum(1 for row in rows if row["rank"] is None)
    lines = [f"Leaderboard ({objective_name}), top {len(ranked)} of "
             f"{len(rows)} trials" + (f", {failed} failed or unfinished"
                                      if failed else "") + ":",
             f"{'rank':>4}  {'trial':>5}  {'objective':>10}  {'epoch':>5}  "
             "hyperparameters"]
    for row in ranked:
        values = " ".join(f"{k}={_format(v)}"
                          for k, v in row["hyperparameters"].items())
        lines.append(f"{row['rank']:>4}  {row['trial_id']:>5}  "
                     f"{row['score']:>10.6g}  {row['best_epoch']:>5}  "
                     f"{values}")
    return "\n".join(lines)


def _save_best_model(tuner, trial, tuning_dir, validation, test):
    """Writes `best_model/`; returns the metrics, or None without weights."""
    try:
        with warnings.catch_warnings():
            # The checkpoint holds the optimizer state too; not needed here.
            warnings.filterwarnings(
                "ignore", message="Skipping variable loading for optimizer")
            model = tuner.load_model(trial)
    except (OSError, ValueError) as e:
        logger.warning(
            "No weights for the best trial %s in %s (%s): best_model/ not "
            "written. Workers on other machines need a shared tuning "
            "directory; or retrain with `keras-o2v train --hyperparameters "
            "%s`.", trial.trial_id, tuning_dir, e,
            os.path.join(tuning_dir, BEST_HYPERPARAMETERS_FILE))
        return None
    # Saved with built (fresh) optimizer variables, so that loading the file
    # finds the variables it expects.
    model.optimizer.build(model.trainable_variables)
    hp = model.hyperparameters
    metrics = {"trial_id": trial.trial_id, "best_epoch": trial.best_step}
    for split, path in (("validation", validation), ("test", test)):
        if path is not None:
            for name, value in evaluate(model, path).items():
                metrics[f"{split}:{name}"] = value
    out = os.path.join(tuning_dir, BEST_MODEL_DIR)
    os.makedirs(out, exist_ok=True)
    stale = os.path.join(out, METRICS_FILE)
    if os.path.exists(stale):
        os.remove(stale)
    save_model_atomic(model, os.path.join(out, MODEL_FILE))
    write_json_atomic(os.path.join(out, HYPERPARAMETERS_FILE), hp)
    write_json_atomic(os.path.join(out, METRICS_FILE), metrics)
    return metrics


def run_search(train, hyperparameters=None, *, validation, tuning_dir,
               test=None, objective=None, tuner="random", max_trials=10,
               tune=None, ranges=None, fixed=None, auxiliary=None,
               overwrite=False, seed=None, top=10, fit_verbose=0):
    """Searches Object2Vec hyperparameters with KerasTuner.

    Args:
        train: path of the train channel (JSON Lines file or directory, or
            prepared data).
        hyperparameters: dict. SageMaker-style map of problem facts and
            settings (see `Object2VecHyperModel`).
        validation: path of the validation channel; the objective is
            measured on it, and early stopping watches its loss.
        tuning_dir: directory of the search (see the module docstring).
        test: optional test channel, evaluated once with the best model.
        objective: SageMaker objective metric: `"validation:mean_squared_error"`
            (minimised), `"validation:accuracy"` (maximised) or
            `"validation:cross_entropy"` (minimised). Defaults to accuracy for
            softmax, MSE for regression.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`. Defaults to
            `"random"`.
        max_trials: int. Trials in all (a resumed search counts the finished
            ones); for Hyperband, a cap on its brackets' trials.
        tune, ranges, fixed: the search space, see `Object2VecHyperModel`.
        auxiliary: optional directory of vocab and pretrained embedding
            files, as in `train`.
        overwrite: bool. Delete an earlier search in `tuning_dir` first.
            Defaults to False: an interrupted search resumes, finished trials
            are kept and a trial cut off mid-way runs again.
        seed: optional int, for the oracle and every trial's weights.
        top: int. Trials shown in the leaderboard (logged at INFO).
            Defaults to 10.
        fit_verbose: Keras `fit` verbosity inside trials. Defaults to 0.

    Returns:
        `SearchResult`.

    Raises:
        ValueError: for a bad setting, bad data (found before any trial),
            or a `tuning_dir` that holds a different search.
    """
    if importlib.util.find_spec("tensorboard") is None:
        # KerasTuner imports it in every trial on the TensorFlow backend.
        raise ValueError("keras_o2v.tuning needs tensorboard: pip install "
                         "\"keras-o2v[tuning]\"")
    if tuner not in TUNERS:
        raise ValueError(f"`tuner` must be one of {list(TUNERS)}. Received: "
                         f"tuner={tuner!r}")
    if (isinstance(max_trials, bool) or not isinstance(max_trials, int)
            or max_trials < 1):
        raise ValueError(f"`max_trials` must be an integer >= 1. Received: "
                         f"max_trials={max_trials!r}")
    if validation is None:
        raise ValueError("`validation` is required: the objective is a "
                         "validation metric. Received: validation=None")
    hypermodel = Object2VecHyperModel(hyperparameters, tune=tune,
                                      ranges=ranges, fixed=fixed,
                                      auxiliary=auxiliary, seed=seed)
    resolved = hypermodel.resolved_default
    objective = objective or default_objective(resolved["output_layer"])
    kt_objective = make_objective(objective, resolved["output_layer"])
    if tuner == "hyperband" and "epochs" in hypermodel.plan.dimensions:
        raise ValueError("`epochs` cannot be tuned with tuner='hyperband': "
                         "Hyperband sets each trial's epochs (up to the "
                         "`epochs` hyperparameter). Received: tune=epochs")
    worker = is_worker()
    if overwrite and worker:
        logger.warning("Ignoring overwrite on worker %s: only the chief may "
                       "clear the tuning directory.",
                       os.environ["KERASTUNER_TUNER_ID"])
        overwrite = False
    os.makedirs(tuning_dir, exist_ok=True)
    if overwrite:
        _clear(tuning_dir)
    if not worker:
        resumed = _check_resumable(tuning_dir, {
            "keras_o2v": __version__,
            "tuner": tuner,
            "objective": objective,
            "hyperparameters": {k: str(v) for k, v in sorted(
                hypermodel.base.items())},
            "search_space": hypermodel.plan.describe(),
            "seed": seed,
        })
        if resumed:
            logger.info("Resuming the search in %s.", tuning_dir)
        # Written again at the end: their presence means a finished search.
        for name in (BEST_HYPERPARAMETERS_FILE, LEADERBOARD_FILE):
            if os.path.exists(os.path.join(tuning_dir, name)):
                os.remove(os.path.join(tuning_dir, name))
    # Every record is checked once, before any trial.
    spec = RecordSpec.from_hyperparameters(resolved)
    for path in (train, validation, test):
        if path is not None:
            hypermodel.channel_stats(path, spec)

    kt_tuner = _make_tuner(
        tuner, hypermodel, kt_objective, max_trials, tuning_dir, seed,
        {"objective_name": objective,
         "dimensions": list(hypermodel.plan.dimensions)})
    kt_tuner.oracle.verbose = 0  # our own progress lines replace its tables
    if is_chief():
        logger.info("chief: serving the oracle on %s:%s until the workers "
                    "finish", os.environ["KERASTUNER_ORACLE_IP"],
                    os.environ["KERASTUNER_ORACLE_PORT"])
    try:
        with warnings.catch_warnings():
            # The Bayesian oracle's Gaussian process warns on most fits
            # that a length scale hit its bound; not actionable here.
            warnings.filterwarnings(
                "ignore", module="sklearn.gaussian_process")
            kt_tuner.search(train=train, validation=validation,
                            fit_verbose=fit_verbose)
    except RuntimeError as e:
        if "consecutive failures" not in str(e):
            raise
        raise ValueError(
            f"The search stopped after {MAX_CONSECUTIVE_FAILED_TRIALS} failed "
            f"trials in a row; the last error: {_error_line(str(e))} (each "
            f"trial folder in {os.path.join(tuning_dir, PROJECT)} keeps its "
            "error).") from None
    if worker:
        logger.info("worker %s: ran %d trials; the chief writes the results",
                    os.environ["KERASTUNER_TUNER_ID"], kt_tuner.trials_run)
        return SearchResult(None, None, [], kt_tuner.trials_run, {},
                            kt_tuner)
    return _finish(kt_tuner, hypermodel, objective, tuning_dir, validation,
                   test, top)


def _finish(kt_tuner, hypermodel, objective, tuning_dir, validation, test,
            top):
    dimensions = list(hypermodel.plan.dimensions)
    rows = leaderboard(kt_tuner.oracle, dimensions)
    logger.info("%s", format_leaderboard(rows, objective, top))
    completed = [row for row in rows if row["rank"] is not None]
    if not completed:
        raise ValueError(f"No trial completed in {tuning_dir}; see the "
                         "errors above (trial folders keep them).")
    best = kt_tuner.oracle.get_trial(completed[0]["trial_id"])
    best_map = hypermodel.sagemaker_hyperparameters(best.hyperparameters)
    metrics = _save_best_model(kt_tuner, best, tuning_dir, validation, test)
    write_json_atomic(os.path.join(tuning_dir, LEADERBOARD_FILE), {
        "objective": objective,
        "direction": kt_tuner.oracle.objective.direction,
        "trials": rows,
    })
    write_json_atomic(os.path.join(tuning_dir, BEST_HYPERPARAMETERS_FILE),
                      best_map)
    logger.info("best trial %s: %s=%.6g", best.trial_id, objective,
                best.score)
    for name in metric_names(hypermodel.resolved_default):
        key = f"test:{name}"
        if metrics and key in metrics:
            logger.info("best model %s=%.6g", key, metrics[key])
    logger.info("wrote %s%s",
                os.path.join(tuning_dir, BEST_HYPERPARAMETERS_FILE),
                (f" and {os.path.join(tuning_dir, BEST_MODEL_DIR, MODEL_FILE)}"
                 if metrics is not None else ""))
    return SearchResult(best_map, best.score, rows, kt_tuner.trials_run,
                        metrics or {}, kt_tuner)

