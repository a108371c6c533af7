"""Fault tolerance: resume a killed run where it stopped, with the same result.

`keras.callbacks.BackupAndRestore` saves the weights and optimizer state in
`<model_dir>/backup` after every epoch and, on restart, reloads them and
resumes at the next epoch. What it does not save is the callbacks' state:
`ResumableEarlyStopping` (SageMaker's early-stopping rule) also writes, per
epoch, the early-stopping counters, the best weights so far and the
per-epoch logs, so a resumed run stops at the same epoch and keeps the same
best weights as an uninterrupted one.

Each epoch's state file is written before `BackupAndRestore` writes that
epoch's checkpoint and is named by epoch, so a kill between the two leaves a
state that matches whichever checkpoint is restored.
"""

import json
import os

import keras
import numpy as np

from keras_o2v.atomic import atomic_path
from keras_o2v.atomic import write_json_atomic

# Keras' BackupAndRestore metadata file (epoch to resume at).
_METADATA = "training_metadata.json"
# The resolved hyperparameters of the run a backup belongs to.
_HYPERPARAMETERS = "hyperparameters.json"


def _state_path(directory, epoch):
    return os.path.join(directory, f"early_stopping_epoch{epoch}.json")


def _weights_path(directory, epoch):
    return os.path.join(directory, f"best_weights_epoch{epoch}.npz")


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """SageMaker's early stopping, whose state survives a kill and restart.

    SageMaker's `early_stopping_tolerance` is "the reduction in the loss
    function that an algorithm must achieve between consecutive epochs to
    avoid early stopping": an epoch whose monitored value is not at least
    `min_delta` below the *previous* epoch's counts towards `patience`, and
    one that is resets the count. Keras' `EarlyStopping` compares with the
    best value so far instead, which ends a run at the first plateau. The
    difference decides SageMaker's MovieLens notebook: its validation MSE
    (epochs from 1) rises after epoch 1 (0.935 -> 1.013) as the model
    memorises the ratings, then falls again to 0.910 at epoch 11, the
    notebook's "approximately 0.91"; Keras' rule stopped at epoch 4 with
    0.935. The weights kept (`restore_best_weights`) are those of the epoch
    with the lowest value.

    Args:
        state_dir: directory for the per-epoch state (the backup directory).
            None disables persistence.
        hyperparameters: optional dict of the run's resolved
            hyperparameters, saved with the first state for
            `check_backup` to compare.
        **kwargs: `keras.callbacks.EarlyStopping` arguments; `mode` must be
            `"min"` (the default here) and `baseline` and
            `start_from_epoch` are not used.

    Attributes:
        epoch_logs: list of the logs of every epoch run so far, including
            the epochs before a restart.
        previous: the previous epoch's monitored value.
    """

    def __init__(self, state_dir=None, hyperparameters=None, mode="min",
                 **kwargs):
        if mode != "min":
            raise ValueError("`mode` must be 'min': the monitored loss "
                             f"must fall. Received: mode={mode!r}")
        super().__init__(mode=mode, **kwargs)
        self.state_dir = state_dir
        self.hyperparameters = hyperparameters
        self.epoch_logs = []
        self.previous = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.epoch_logs = []
        self.previous = None
        if self.state_dir is None:
            return
        metadata = os.path.join(self.state_dir, _METADATA)
        if not os.path.exists(metadata):
            return
        with open(metadata) as f:
            resume_at = json.load(f)["epoch"]
        path = _state_path(self.state_dir, resume_at - 1)
        if resume_at < 1 or not os.path.exists(path):
            return
        with open(path) as f:
            state = json.load(f)
        self.wait = state["wait"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.epoch_logs = state["epoch_logs"]
        self.previous = state.get("previous")
        if state["best_weights"]:
            with np.load(state["best_weights"]) as arrays:
                self.best_weights = [arrays[f"w{i}"]
                                     for i in range(len(arrays.files))]

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_logs.append({k: float(v) for k, v in (logs or {}).items()})
        current = self.get_monitor_value(logs)
        if current is not None:
            self._update(epoch, float(current))
        if self.state_dir is not None:
            self._save(epoch)

    def _update(self, epoch, current):
        reduced = (self.previous is None
                   or current <= self.previous - self.min_delta)
        self.wait = 0 if reduced else self.wait + 1
        self.previous = current
        if not np.isnan(current) and (self.best is None
                                      or current < self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def _save(self, epoch):
        os.makedirs(self.state_dir, exist_ok=True)
        run = os.path.join(self.state_dir, _HYPERPARAMETERS)
        if self.hyperparameters is not None and not os.path.exists(run):
            write_json_atomic(run, self.hyperparameters)
        weights = None
        if self.best_weights is not None:
            weights = _weights_path(self.state_dir, self.best_epoch)
            if not os.path.exists(weights):
                with atomic_path(weights, suffix=".npz") as tmp:
                    np.savez(tmp, **{f"w{i}": w for i, w in
                                     enumerate(self.best_weights)})
        best = None if self.best is None else float(self.best)
        state = {"wait": self.wait, "best": best,
                 "best_epoch": self.best_epoch, "best_weights": weights,
                 "previous": self.previous, "epoch_logs": self.epoch_logs}
        with atomic_path(_state_path(self.state_dir, epoch)) as tmp:
            with open(tmp, "w") as f:
                json.dump(state, f)
        # Keep this epoch's and the previous epoch's files only.
        keep = {_state_path(self.state_dir, e) for e in (epoch, epoch - 1)}
        keep.add(weights)
        keep |= self._referenced(keep)
        for name in os.listdir(self.state_dir):
            path = os.path.join(self.state_dir, name)
            if (name.startswith(("early_stopping_epoch", "best_weights_epoch"))
                    and path not in keep):
                os.remove(path)

    @staticmethod
    def _referenced(state_files):
        """Weights files that the kept state files point to."""
        out = set()
        for path in state_files:
            if path and path.endswith(".json") and os.path.exists(path):
                with open(path) as f:
                    out.add(json.load(f)["best_weights"])
        return out


def check_backup(state_dir, hyperparameters):
    """Refuses to resume a backup of a run with other hyperparameters.

    A backup left by a killed run is resumed by the next run with the same
    `model_dir`. If that run's hyperparameters differ, resuming would mix
    the two runs (one's weights trained on as the other), so it is
    refused. `ResumableEarlyStopping` saves the hyperparameters with its
    first state; a backup from before it did is resumed unchecked.

    Raises:
        ValueError: naming the hyperparameters that differ.
    """
    path = os.path.join(state_dir, _HYPERPARAMETERS)
    if not (os.path.exists(os.path.join(state_dir, _METADATA))
            and os.path.exists(path)):
        return
    with open(path) as f:
        saved = json.load(f)
    current = json.loads(json.dumps(hyperparameters))
    changed = sorted(key for key in set(saved) | set(current)
                     if saved.get(key) != current.get(key))
    if changed:
        diffs = ", ".join(f"{key}={saved.get(key)!r} (now "
                          f"{current.get(key)!r})" for key in changed)
        raise ValueError(
            f"`model_dir` must not hold the backup of an unfinished run with "
            f"other hyperparameters: {state_dir} is a run with {diffs}, "
            f"which this run would resume. Delete {state_dir} to start "
            f"afresh, or run with its hyperparameters to finish it. "
            f"Received: model_dir={os.path.dirname(state_dir)!r}")
