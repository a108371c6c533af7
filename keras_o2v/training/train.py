"""Training with SageMaker's channels, early stopping, metrics and outputs."""

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
import warnings

import keras
import tensorflow as tf

from keras_o2v.atomic import save_model_atomic
from keras_o2v.atomic import write_json_atomic
from keras_o2v.data import RecordSpec
from keras_o2v.data.channels import channel_stats
from keras_o2v.data.channels import num_parts
from keras_o2v.data.channels import open_channel
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.models import build_object2vec
from keras_o2v.models.object2vec import SAGEMAKER_METRICS
from keras_o2v.training import retrieval as retrieval_objective
from keras_o2v.training.callbacks import SageMakerMetricsLogger
from keras_o2v.training.callbacks import quality_line
from keras_o2v.training.distribution import describe
from keras_o2v.training.distribution import mixed_precision_policy
from keras_o2v.training.distribution import select_strategy
from keras_o2v.training.distribution import task_info
from keras_o2v.training.distribution import worker_shard
from keras_o2v.training.multi_worker import multi_worker_fit_fixes
from keras_o2v.training.pretrained import load_pretrained_embeddings
from keras_o2v.training.resume import ResumableEarlyStopping
from keras_o2v.training.resume import check_backup

logger = logging.getLogger("keras_o2v")

MODEL_FILE = "model.keras"
HYPERPARAMETERS_FILE = "hyperparameters.json"
METRICS_FILE = "metrics.json"
EVAL_BATCH_SIZE = 1024


def metric_names(hp, objective="object2vec"):
    """The SageMaker metric names logged for `hp["output_layer"]` (or the
    retrieval objective's)."""
    if objective == "retrieval":
        return retrieval_objective.RETRIEVAL_METRICS
    return tuple(SAGEMAKER_METRICS[hp["output_layer"]])


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the model (best weights) and its metrics."""

    model: keras.Model
    metrics: dict
    history: dict
    hyperparameters: dict


def _raise_channel_error(channels):
    for channel in channels:
        if channel is not None and channel.error is not None:
            raise channel.error from None


@contextlib.contextmanager
def data_errors(*channels):
    """Raises a channel's `ValueError` in place of what it caused.

    The channels' datasets are made with `on_error="stop"`: a bad record
    ends the pass quietly, so Keras sees a short epoch (or tf.data an
    error); either way the channel's own error is what the caller gets.
    """
    try:
        yield
    except Exception:
        _raise_channel_error(channels)
        raise
    _raise_channel_error(channels)


class _StopOnDataError(keras.callbacks.Callback):
    """Raises a channel's error at the first step after the bad record, so
    that no callback after it (backups, early stopping) treats the short
    epoch as complete."""

    def __init__(self, *channels):
        super().__init__()
        self.channels = channels

    def on_train_batch_end(self, batch, logs=None):
        _raise_channel_error(self.channels)

    def on_epoch_end(self, epoch, logs=None):
        _raise_channel_error(self.channels)


def _eval_channel(path, spec, batch_size=EVAL_BATCH_SIZE, stats=None):
    return open_channel(path, spec, batch_size, shuffle=False, stats=stats)


# === Steps shared with a tuning trial (keras_o2v.tuning) ===


def check_auxiliary(auxiliary):
    """Raises unless `auxiliary` is None or an existing directory."""
    if auxiliary is not None and not os.path.isdir(auxiliary):
        raise ValueError(f"`auxiliary` must be a directory. Received: "
                         f"auxiliary={auxiliary!r}")


def build_model(hp, auxiliary=None, seed=None, objective="object2vec",
                retrieval=None):
    """`build_object2vec(hp)` with the auxiliary channel's pretrained vectors.

    Args:
        hp: dict. Resolved hyperparameters.
        auxiliary: optional directory of vocab and pretrained embedding files.
        seed: optional int for the rows that start random (OOV words).
        objective: `"object2vec"` or `"retrieval"` (a `RetrievalModel` with
            the options `retrieval`).
        retrieval: optional dict of `RetrievalModel` options.

    Returns:
        The compiled `Object2Vec` (or `RetrievalModel`).
    """
    model = (retrieval_objective.build(hp, retrieval)
             if objective == "retrieval" else build_object2vec(hp))
    load_pretrained_embeddings(model, auxiliary, seed)
    return model


def start_at_label_mean(model, stats):
    """Starts a regression model's output bias at the train labels' mean.

    The global mean of biased matrix factorisation. From 0, Adam at a
    learning rate of 1e-3 needs thousands of steps to reach a mean rating
    of 3.5, and meanwhile the other weights learn the offset (an in-memory
    I-AutoRec on MovieLens u1: test RMSE 0.929 after 12 epochs from 0,
    0.908 from the mean). Classifiers, and models whose train labels were
    not counted, are left as built.

    Args:
        model: a freshly built `Object2Vec`.
        stats: the train channel's `ChannelStats`, or None.
    """
    mean = None if stats is None else stats.label_mean
    if (mean is not None
            and model.hyperparameters["output_layer"] == "mean_squared_error"):
        model.get_layer("output").bias.assign([mean])
        logger.info("Output bias starts at the mean train label, %.4g.", mean)


def stopping_monitor(hp, objective="object2vec", validating=True):
    """The log early stopping watches: the loss on the data, no penalty.

    For an `Object2Vec` that is SageMaker's metric of its output layer,
    `mean_squared_error` or `cross_entropy` (`val_` with validation data),
    as SageMaker "uses the validation metric to perform early stopping".
    Keras' `val_loss` would add the lazy L2 penalties (`embedding_l2`,
    field and bias `l2`), which grow while the model fits: on MovieLens u1
    (`examples/movielens_features.py`, embedding_l2 0.5) it stopped at
    epoch 5 while the validation RMSE still fell. Other objectives (the
    retrieval model) watch their loss.
    """
    name = "loss"
    if objective == "object2vec":
        name = ("mean_squared_error"
                if hp["output_layer"] == "mean_squared_error"
                else "cross_entropy")
    return f"val_{name}" if validating else name


def make_channels(train, validation, spec, hp, batch_size, *, seed=None,
                  stats=None, eval_batch_size=EVAL_BATCH_SIZE,
                  **channel_kwargs):
    """The train channel and the validation channel of a run.

    The train channel is shuffled, bucketed (`bucket_width`) and gets
    `negative_sampling_rate` negatives per positive, as `hp` says; the
    validation channel is read in order in batches of `EVAL_BATCH_SIZE`.

    Args:
        train: path of the train channel.
        validation: path of the validation channel, or None.
        spec: `RecordSpec` of the records.
        hp: dict. Resolved hyperparameters.
        batch_size: int. Batch of the train channel.
        seed: optional int for the shuffling and the negatives.
        stats: optional dict `"train"`/`"validation"` -> `ChannelStats` of an
            earlier `scan`, so the channels know their batch counts.
        eval_batch_size: int. Batch of the validation channel.
        **channel_kwargs: more channel arguments for the train
            channel (`shuffle_buffer`, `num_shards`, `shard_index`).

    Returns:
        `(train_channel, val_channel)`; `val_channel` is None without
        `validation`.
    """
    stats = stats or {}
    train_channel = open_channel(
        train, spec, batch_size, shuffle=True,
        bucket_width=hp["bucket_width"],
        negative_sampling_rate=hp["negative_sampling_rate"], seed=seed,
        # A shard's batch count is not the whole channel's.
        stats=None if "num_shards" in channel_kwargs else stats.get("train"),
        **channel_kwargs)
    val_channel = (_eval_channel(validation, spec, eval_batch_size,
                                 stats=stats.get("validation"))
                   if validation is not None else None)
    return train_channel, val_channel


def fit_channels(model, train_channel, val_channel=None, transform=None,
                 **kwargs):
    """`model.fit` on channels from `make_channels`.

    A bad record raises the channel's own `ValueError` (see `data_errors`),
    not tf.data's wrapped error.

    Args:
        model: the model to train.
        train_channel: `JsonlChannel` or `PreparedChannel` to train on.
        val_channel: optional channel for `validation_data`.
        transform: optional function applied to both channels' datasets
            (the retrieval objective keeps positive pairs).
        **kwargs: passed to `model.fit` (`epochs`, `callbacks`, `verbose`,
            ...).

    Returns:
        The Keras `History`.
    """
    callbacks = [_StopOnDataError(train_channel, val_channel),
                 *(kwargs.pop("callbacks", None) or [])]
    transform = transform or (lambda dataset: dataset)
    train_data = transform(train_channel.as_dataset(on_error="stop"))
    if train_channel.num_batches is not None:
        # One iterator for all epochs: the next epoch's first batches are
        # read while this one ends, instead of after it (at every epoch
        # start the input pipeline would otherwise begin cold).
        train_data = train_data.repeat()
        kwargs.setdefault("steps_per_epoch", train_channel.num_batches)
    with data_errors(train_channel, val_channel), warnings.catch_warnings():
        # Keras warns whenever a pass of unknown length ends (no `stats`),
        # and when a bad record ends it early: the channel says more.
        warnings.filterwarnings("ignore", "Your input ran out of data")
        return model.fit(
            train_data,
            validation_data=(transform(val_channel.as_dataset(
                on_error="stop")) if val_channel is not None else None),
            shuffle=False,  # the channel shuffles, per epoch and seed
            callbacks=callbacks, **kwargs)


def evaluate(model, path, batch_size=None, transform=None, stats=None):
    """Evaluates `model` on a labelled channel (JSON Lines or prepared).

    A retrieval model (`objective="retrieval"`) is evaluated on the
    channel's positive pairs, in batches of its `mini_batch_size` (its
    ranking metric is within the batch), with the logQ estimate from this
    channel unless `transform` (`train`'s, from the train channel) is given.

    Args:
        model: a trained `Object2Vec` or `RetrievalModel`.
        path: the channel (file or directory).
        batch_size: optional int. Defaults to 1024 for Object2Vec, to
            `mini_batch_size` for a retrieval model.
        transform: optional function applied to the channel's dataset.
        stats: optional `ChannelStats` of an earlier scan of `path` with
            this model's spec (`train` has them from its validation pass);
            scanned here otherwise.

    Returns:
        dict of metric name -> value, e.g. `{"accuracy": 0.9}`.
    """
    hp = model.hyperparameters
    objective = retrieval_objective.objective_of(model)
    spec = RecordSpec.from_hyperparameters(hp)
    if batch_size is None:
        batch_size = (hp["mini_batch_size"] if objective == "retrieval"
                      else EVAL_BATCH_SIZE)
    if objective == "retrieval" and transform is None:
        transform = retrieval_objective.batch_transform(
            path, spec, hp, {"logq_correction": model.logq_correction})
    # The scan validates every record and gives the exact batch count.
    channel = _eval_channel(path, spec, batch_size,
                            stats=stats or channel_stats(path, spec))
    dataset = channel.as_dataset(on_error="stop")
    with data_errors(channel), warnings.catch_warnings():
        # A transform (positive pairs) leaves the pass's length unknown.
        warnings.filterwarnings("ignore", "Your input ran out of data")
        logs = model.evaluate(transform(dataset) if transform else dataset,
                              verbose=0, return_dict=True)
    return {name: float(logs[name]) for name in metric_names(hp, objective)}


class _SyncEpoch(keras.callbacks.Callback):
    """Shuffles epoch k of the train channel as epoch k, also after a
    resume from a backup.

    Set once, at the first epoch of `fit` (the resumed one): the train
    dataset then runs on from epoch to epoch (see `fit_channels`), its next
    epoch already started while this one ends.
    """

    def __init__(self, channel):
        super().__init__()
        self.channel = channel

    def on_train_begin(self, logs=None):
        self.synced = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self.synced:
            self.channel.next_epoch = epoch
            self.synced = True


def _log_resolved(hp):
    logger.info("Resolved hyperparameters: %s",
                json.dumps(hp, sort_keys=True))


def _fit_verbosity(verbose):
    """Keras `fit` verbosity for `verbose`; `"auto"` is a progress bar (1)
    on a terminal or in a notebook, else one line per epoch (2): the bar
    writes colour codes and carriage returns, which log files should not
    get."""
    if verbose != "auto":
        return verbose
    isatty = getattr(sys.stdout, "isatty", None)
    interactive = (isatty is not None and isatty()) or (
        "ipykernel" in sys.modules)
    return 1 if interactive else 2


def train(train, hyperparameters=None, *, validation=None, test=None,
          auxiliary=None, model_dir=None, seed=None, validate_data=True,
          shuffle_buffer=None, verbose="auto", early_stopping=True,
          distribution="none", per_replica_batch=True, mixed_precision=False,
          callbacks=None, objective="object2vec", retrieval=None,
          **overrides):
    """Trains an Object2Vec model on its channels, as SageMaker does.

    Each channel is JSON Lines (a file or a directory of files) or prepared
    data (a directory written by `keras-o2v convert`, recognised by its
    manifest; see `keras_o2v.data.prepared`).

    With `objective="retrieval"` the model is instead a two-tower
    `keras_o2v.retrieval.RetrievalModel` trained with the in-batch softmax
    on the positive pairs (label != 0) of the same channels; see
    `keras_o2v.training.retrieval`. Its metrics are the loss and, on the
    validation and test channels, in-batch `batch_hits_at_10` (ranked at
    each epoch end, not at every training step).

    Progress goes to `logging` (logger `"keras_o2v"`, level INFO): the
    resolved hyperparameters, channel sizes and SageMaker's
    `#quality_metric` lines, one per metric and split each epoch and one
    per test metric at the end. `logging.basicConfig(level=logging.INFO)`
    shows them; the CLI prints them to stdout.

    Args:
        train: path of the train channel (file or directory).
        hyperparameters: dict of SageMaker-named hyperparameters (strings or
            typed values).
        validation: optional validation channel, evaluated after every
            epoch. Enables early stopping on the validation metric of the
            output layer (`stopping_monitor`: mean squared error or cross
            entropy, without the L2 penalties; `early_stopping_patience`,
            `early_stopping_tolerance`); the best epoch's weights are kept.
        test: optional test channel, evaluated once at the end.
        auxiliary: optional directory of vocab and pretrained embedding files.
        model_dir: optional output directory; receives `model.keras`,
            `hyperparameters.json` (resolved) and, last, `metrics.json`. Each
            is written atomically; `metrics.json` only exists once the run
            has completed. While training, `model_dir/backup` holds the
            state of the last completed epoch: a run killed at any point and
            started again with the same arguments resumes there and ends
            with the same result (see `keras_o2v.training.resume`).
        seed: optional int for reproducible weights and shuffling.
        validate_data: bool. Validate every record of every channel before
            training starts (one fast pass). If False, a bad record raises
            when its batch is read. Defaults to True.
        shuffle_buffer: optional int, records held for shuffling.
        verbose: Keras `fit` verbosity: 0, 1 (progress bar), 2 (one line
            per epoch) or `"auto"`: 1 when stdout is a terminal or in a
            notebook, else 2. Defaults to `"auto"`.
        early_stopping: bool. If False, all `epochs` run and the last
            epoch's weights are kept, while a validation channel is still
            evaluated (and logged) every epoch. Defaults to True.
        distribution: `"auto"`, `"none"`, `"mirrored"` or `"multi_worker"`
            (see `keras_o2v.training.distribution`). Defaults to `"none"`;
            the CLI defaults to `"auto"`.
        per_replica_batch: bool. If True (default), `mini_batch_size` is the
            batch of each replica and the global batch is `mini_batch_size`
            times the number of replicas; if False, `mini_batch_size` is the
            global batch, split between the replicas.
        mixed_precision: bool. Compute in `mixed_bfloat16` (hardware with
            bfloat16 units) or `mixed_float16`; the output layer stays
            float32. Defaults to False.
        callbacks: optional extra Keras callbacks, run after keras_o2v's.
        objective: `"object2vec"` (default: SageMaker's model and losses)
            or `"retrieval"`.
        retrieval: optional dict of `RetrievalModel` options for the
            retrieval objective: `similarity` (`"cosine"`), `temperature`
            (0.1), `logq_correction` (False), `remove_accidental_hits`
            (True), `train_metrics` (False: rank in evaluation only).
        **overrides: hyperparameters overriding `hyperparameters`.

    Returns:
        `TrainResult` with the model, metrics (`"validation:accuracy"`...),
        Keras history and the resolved hyperparameters.
    """
    hp = resolve_hyperparameters({**(hyperparameters or {}), **overrides})
    retrieval_objective.check_objective(objective, retrieval, hp)
    # First: MultiWorkerMirroredStrategy must exist before any TF op runs.
    strategy = select_strategy(distribution)
    task_type, task_id, chief = task_info(strategy)
    _log_resolved(hp)
    check_auxiliary(auxiliary)
    with _removed_on_failure(model_dir):
        _clear_stale_outputs(model_dir)
        if seed is not None:
            keras.utils.set_random_seed(seed)
        spec = RecordSpec.from_hyperparameters(hp)
        stats = (_scan_channels({"train": train, "validation": validation,
                                 "test": test}, spec)
                 if validate_data else {})
        batch_size = hp["mini_batch_size"] * (
            strategy.num_replicas_in_sync if per_replica_batch else 1)
        logger.info("Distribution: %s; global batch %d.", describe(strategy),
                    batch_size)
        transform = None
        eval_batch_size = EVAL_BATCH_SIZE
        if objective == "retrieval":
            transform = retrieval_objective.batch_transform(train, spec, hp,
                                                            retrieval)
            # In-batch ranking: validate with the training batch's size.
            eval_batch_size = batch_size
        train_channel, val_channel = make_channels(
            train, validation, spec, hp, batch_size, seed=seed, stats=stats,
            eval_batch_size=eval_batch_size,
            **_worker_channel_kwargs(strategy, train, shuffle_buffer))
        model = _build_in_scope(strategy, mixed_precision, hp, auxiliary,
                                seed, objective, retrieval)
        if objective == "object2vec":
            start_at_label_mean(model, stats.get("train"))
        backup_dir = _backup_dir(model_dir, chief, task_type, task_id)
        if backup_dir is not None:
            check_backup(backup_dir, hp)
        stops = early_stopping and val_channel is not None
        stopper, all_callbacks = _training_callbacks(
            hp, objective, train_channel, val_channel is not None, stops,
            backup_dir, callbacks)
        if val_channel is not None and not early_stopping:
            logger.info("Early stopping off: %d epochs; the last one's "
                        "weights are kept.", hp["epochs"])
        with multi_worker_fit_fixes(model, strategy,
                                    lambda: _first_batch(train, spec,
                                                         batch_size)):
            fit_channels(model, train_channel, val_channel, transform,
                         epochs=hp["epochs"], callbacks=all_callbacks,
                         verbose=_fit_verbosity(verbose))
            history = {k: [log[k] for log in stopper.epoch_logs]
                       for k in (stopper.epoch_logs or [{}])[0]}
            metrics = _final_metrics(
                model, hp, history, validation, test,
                kept_epoch=stopper.best_epoch if stops else None,
                objective=objective, transform=transform,
                batch_size=eval_batch_size, stats=stats)
        if model_dir and chief:
            _write_outputs(model_dir, model, hp, metrics)
        return TrainResult(model, metrics, history, hp)


# === The steps of `train` ===


def _clear_stale_outputs(model_dir):
    """Creates `model_dir`; removes an earlier run's `metrics.json`, so an
    old "complete" marker never sits beside a new model."""
    if not model_dir:
        return
    os.makedirs(model_dir, exist_ok=True)
    stale = os.path.join(model_dir, METRICS_FILE)
    if os.path.exists(stale):
        os.remove(stale)
        logger.info("Removed %s from an earlier run.", stale)


def _scan_channels(paths, spec):
    """Validates every record of every channel (one pass each): channel
    name -> `ChannelStats`."""
    stats = {}
    for name, path in paths.items():
        if path is not None:
            stats[name] = channel_stats(path, spec)
            logger.info("%s channel %s: %d records, %d with label != 0.",
                        name, path, stats[name].records,
                        stats[name].nonzero_labels)
    return stats


def _worker_channel_kwargs(strategy, train, shuffle_buffer):
    """Train channel arguments: the shuffle buffer, and this worker's share
    of the files or shards in multi-worker training."""
    kwargs = {}
    if shuffle_buffer is not None:
        kwargs["shuffle_buffer"] = shuffle_buffer
    num_workers, worker_index = worker_shard(strategy)
    parts = num_parts(train)
    if num_workers > 1 and parts >= num_workers:
        # Several files or shards: each worker reads its own. Their batch
        # counts differ, so no exact count is declared.
        kwargs.update(num_shards=num_workers, shard_index=worker_index)
        logger.info("Worker %d of %d reads %d of the %d train files.",
                    worker_index, num_workers,
                    len(range(worker_index, parts, num_workers)), parts)
    return kwargs


def _build_in_scope(strategy, mixed_precision, hp, auxiliary, seed,
                    objective, retrieval):
    """`build_model` under the strategy and, optionally, mixed precision
    (the global dtype policy is restored afterwards)."""
    previous_policy = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy(mixed_precision_policy())
        logger.info("Mixed precision: %s.", keras.config.dtype_policy().name)
    try:
        with strategy.scope():
            return build_model(hp, auxiliary, seed, objective, retrieval)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _backup_dir(model_dir, chief, task_type, task_id):
    """Where each epoch's state is backed up (None without `model_dir`)."""
    if not model_dir:
        return None
    if not chief:
        # Workers must not overwrite the chief's backup.
        return os.path.join(model_dir, f".backup-{task_type}-{task_id}")
    return os.path.join(model_dir, "backup")


def _training_callbacks(hp, objective, train_channel, validating, stops,
                        backup_dir, callbacks):
    """`(stopper, callbacks)`: keras_o2v's callbacks, then the user's.

    The stopper records every epoch's logs; it only stops (and restores the
    best weights) when `stops`.
    """
    stopper = ResumableEarlyStopping(
        state_dir=backup_dir, hyperparameters=hp,
        monitor=stopping_monitor(hp, objective, validating),
        patience=(hp["early_stopping_patience"] if stops
                  else hp["epochs"] + 1),
        min_delta=hp["early_stopping_tolerance"],
        restore_best_weights=stops)
    own = [
        _SyncEpoch(train_channel),
        SageMakerMetricsLogger(lambda: train_channel.records_per_epoch,
                               metric_names(hp, objective)),
        stopper,  # saves its state before the backup of each epoch
    ]
    if not any(isinstance(c, keras.callbacks.ProgbarLogger)
               for c in callbacks or []):
        # Given first, the bar ends each epoch before the metric lines.
        own.insert(0, keras.callbacks.ProgbarLogger())
    if backup_dir is not None:
        own.append(keras.callbacks.BackupAndRestore(backup_dir,
                                                    delete_checkpoint=True))
    return stopper, own + list(callbacks or [])


def _write_outputs(model_dir, model, hp, metrics):
    """`model.keras`, `hyperparameters.json` and, last, `metrics.json`."""
    save_model_atomic(model, os.path.join(model_dir, MODEL_FILE))
    write_json_atomic(os.path.join(model_dir, HYPERPARAMETERS_FILE), hp)
    write_json_atomic(os.path.join(model_dir, METRICS_FILE), metrics)
    logger.info("Wrote %s, %s and %s to %s.", MODEL_FILE,
                HYPERPARAMETERS_FILE, METRICS_FILE, model_dir)


@contextlib.contextmanager
def _removed_on_failure(model_dir):
    """Removes `model_dir` if this run created it and fails while it holds
    no file (nothing a rerun could resume from)."""
    created = model_dir is not None and not os.path.exists(model_dir)
    try:
        yield
    except BaseException:
        if created and not any(files for _, _, files in os.walk(model_dir)):
            shutil.rmtree(model_dir, ignore_errors=True)
        raise


def _first_batch(path, spec, batch_size):
    """The first batch of a channel, in file order, as arrays."""
    channel = open_channel(path, spec, batch_size, shuffle=False)
    batch = next(iter(channel.as_dataset()))
    return tf.nest.map_structure(lambda t: t.numpy(), batch)


def _final_metrics(model, hp, history, validation, test, kept_epoch=None,
                   objective="object2vec", transform=None,
                   batch_size=EVAL_BATCH_SIZE, stats=None):
    """Metrics of the kept weights: epoch `kept_epoch`'s (early stopping's
    best: the lowest validation metric), else the last epoch's.

    `best_epoch` is the epoch whose weights were kept. `stats` (split ->
    `ChannelStats`) are the scans `train` already made, not repeated."""
    names = metric_names(hp, objective)
    best = (len(history["loss"]) - 1 if kept_epoch is None
            else int(kept_epoch))
    metrics = {"best_epoch": best, "epochs_completed": len(history["loss"])}
    for name in names:
        if name in history:  # a retrieval model ranks in evaluation only
            metrics[f"train:{name}"] = history[name][best]
    for split, path in (("validation", validation), ("test", test)):
        if path is None:
            continue
        results = evaluate(model, path, batch_size, transform,
                           stats=(stats or {}).get(split))
        for name in names:
            metrics[f"{split}:{name}"] = results[name]
            if split == "test":
                logger.info(quality_line("test", name, results[name]))
    return metrics


def load_model(model_dir):
    """Loads `model.keras` from a `train` output directory."""
    path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"No {MODEL_FILE} in {model_dir!r}: pass the "
                         "`--model-dir` of a completed `keras-o2v train`.")
    return keras.models.load_model(path)
