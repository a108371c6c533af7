"""`Object2VecHyperModel`: the KerasTuner search space of Object2Vec."""

import os

import keras
import keras_tuner
import tensorflow as tf

from keras_o2v.data import RecordSpec
from keras_o2v.data.channels import channel_stats
from keras_o2v.hyperparameters import ENCODERS
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.hyperparameters import to_sagemaker_strings
from keras_o2v.training.resume import ResumableEarlyStopping
from keras_o2v.training.train import build_model
from keras_o2v.training.train import check_auxiliary
from keras_o2v.training.train import fit_channels
from keras_o2v.training.train import make_channels
from keras_o2v.training.train import start_at_label_mean
from keras_o2v.training.train import stopping_monitor
from keras_o2v.tuning.space import ENCODER_SETTINGS
from keras_o2v.tuning.space import PROBLEM_FACTS
from keras_o2v.tuning.space import TUNING_RANGES
from keras_o2v.tuning.space import default_value
from keras_o2v.tuning.space import dimension_default
from keras_o2v.tuning.space import plan_search

# Declaration order of the names that are not encoder-specific.
_GLOBAL = ("enc_dim", "dropout", "optimizer", "learning_rate", "weight_decay",
           "mini_batch_size", "epochs", "early_stopping_patience",
           "early_stopping_tolerance", "mlp_layers")


def _drop_implicit_token_dims(base, plan):
    """Forgets a pooled token dim that only restates the given `enc_dim`.

    SageMaker's rule makes a pooled token dim equal to `enc_dim`. When
    `enc_dim` is tuned, a token dim copied from the given `enc_dim` must
    follow the tuned value, not turn into a projection from the old one. A
    dim that sizes pretrained vectors is kept.
    """
    if "enc_dim" not in plan.dimensions or "enc_dim" not in base:
        return base
    base = dict(base)
    for prefix in ("enc0", "enc1"):
        name = f"{prefix}_token_embedding_dim"
        pretrained = base.get(f"{prefix}_pretrained_embedding_file") or (
            prefix == "enc1" and base.get("enc0_pretrained_embedding_file"))
        if pretrained:
            continue  # the file's vector size: it must stay
        pools = any(ENCODERS[n].token_dim_is_enc_dim
                    for n in plan.networks[prefix] if n in ENCODERS)
        if (pools and name in base
                and str(base[name]).strip() == str(base["enc_dim"]).strip()):
            del base[name]
    return base


class Object2VecHyperModel(keras_tuner.HyperModel):
    """Object2Vec's search space, with SageMaker's defaults and ranges.

    `build(hp)` declares every hyperparameter of SageMaker's tuning page
    (listed in the Tuning guide) that applies to the problem, with
    SageMaker's default as the default and SageMaker's recommended range as
    the range, and returns a compiled `Object2Vec` model. What is tuned and
    what is held fixed is decided once, in the constructor (see
    `keras_o2v.tuning.space`):

    * `enc_dim` (4-4096, log), `dropout` (0-1) and `optimizer` (the five) are
      always tuned, overriding a value in `hyperparameters`, unless `fixed`
      pins them;
    * the other recommended names are tuned when `hyperparameters` leaves
      them unset (except `epochs`), or exactly those listed in `tune`;
    * `ranges` narrows a range or makes any other name tunable;
    * everything else is `hp.Fixed` at the given or default value.

    Encoder knobs live in conditional scopes on their network:
    `encX_layers` under `hcnn` (default 4) and `bilstm` (default 1),
    `encX_cnn_filter_width` under `hcnn`, `encX_token_embedding_dim` under
    `hcnn` and `bilstm` (a `pooled_embedding` token dim is `enc_dim`); the
    encoder registry (`keras_o2v.hyperparameters.ENCODERS`) says which
    network reads which knob.
    `mlp_dim` and `mlp_activation` are conditional on `mlp_layers` > 0 when
    the search may set it to 0. enc1's knobs exist only when `enc1_network`
    names a network (with `"enc0"`, enc1 copies enc0's values).

    `fit(hp, model, train, validation)` reads channel paths (JSON Lines or
    prepared data, `keras_o2v.data.channels`), so `mini_batch_size`,
    `bucket_width` and `negative_sampling_rate` of the trial apply, and
    stops early on the validation metric (`stopping_monitor`) with
    `early_stopping_patience` and `early_stopping_tolerance`, as
    `keras_o2v.training.train` does. As KerasTuner's contract says, `fit`
    also takes what `model.fit` takes
    (`tuner.search(x, y, validation_data=(xv, yv))` with dicts of numpy
    arrays, or a `tf.data.Dataset`): then the trial's `mini_batch_size`
    (for arrays), `epochs` and early stopping apply.
    Pretrained token vectors named by `encX_pretrained_embedding_file` are
    loaded from `auxiliary` into every trial's model, as `train` does.

    Args:
        hyperparameters: dict. SageMaker-style map (strings or typed values)
            holding the facts of the problem (`enc0_vocab_size`,
            `enc0_max_seq_len`, `enc1_*` for a separate enc1 network,
            `output_layer`, `num_classes`) and any settings.
        tune: optional list of names to tune besides the core space. Defaults
            to every recommended name `hyperparameters` leaves unset.
        ranges: optional dict name -> `(low, high)` or list of choices.
        fixed: optional dict name -> value, held with `hp.Fixed`.
        auxiliary: optional directory of the auxiliary channel (JSON vocab
            and pretrained embedding files).
        seed: optional int. Every trial starts from the same seed (weights
            and shuffling), so trials differ only in their hyperparameters.
        name: optional name of the hypermodel.
        **kwargs: more hyperparameters, overriding `hyperparameters`.

    Raises:
        ValueError: when a problem fact is missing or a setting is invalid,
            before any search starts.

    Example:

    ```python
    import keras_tuner

    import keras_o2v.tuning

    hypermodel = keras_o2v.tuning.Object2VecHyperModel(
        {"enc0_network": "pooled_embedding", "enc0_vocab_size": "944",
         "enc0_max_seq_len": "1", "output_layer": "mean_squared_error"},
        ranges={"enc_dim": (16, 256)}, fixed={"mini_batch_size": 64})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)  # the default configuration
    hp.get("enc_dim")  # 256: SageMaker's 4096, clipped to the range
    ```
    """

    def __init__(self, hyperparameters=None, *, tune=None, ranges=None,
                 fixed=None, auxiliary=None, seed=None, name=None,
                 **kwargs):
        base = {**(hyperparameters or {}), **kwargs}
        # Every given value is checked (names, ranges, problem facts) first.
        resolve_hyperparameters({**base, **(fixed or {})})
        self.plan = plan_search(base, tune=tune, ranges=ranges, fixed=fixed)
        self.base = _drop_implicit_token_dims(base, self.plan)
        check_auxiliary(auxiliary)
        self.auxiliary = auxiliary
        self.seed = seed
        super().__init__(name=name)
        # Fail now, not in every trial: the default configuration must build.
        self.resolved_default = resolve_hyperparameters(
            self.trial_hyperparameters(keras_tuner.HyperParameters()))
        self._stats = {}

    # === Search space ===

    def _declare(self, hp, name, network=None):
        """Declares `name` on `hp` (tuned or fixed); returns its value."""
        dimension = self.plan.dimensions.get(name)
        if dimension is None:
            value = (self.plan.fixed[name] if name in self.plan.fixed
                     else default_value(name, self.base, network))
            return hp.Fixed(name, value)
        default = dimension_default(dimension, self.base, network)
        if dimension.is_choice:
            return hp.Choice(name, list(dimension.values), default=default)
        sampling = "log" if dimension.log else "linear"
        if dimension.is_int:
            return hp.Int(name, int(dimension.low), int(dimension.high),
                          sampling=sampling, default=int(default))
        return hp.Float(name, float(dimension.low), float(dimension.high),
                        sampling=sampling, default=float(default))

    def _declare_encoder(self, hp, prefix, values):
        network_name = f"{prefix}_network"
        values[network_name] = self._declare(hp, network_name)
        networks = [n for n in self.plan.networks[prefix] if n in ENCODERS]
        for setting in ENCODER_SETTINGS:
            name = f"{prefix}_{setting}"
            if prefix == "enc1" and self.plan.tied and (
                    setting == "token_embedding_dim"):
                continue  # one shared table: enc0's dim (set below)
            using = [n for n in networks
                     if setting in ENCODERS[n].tunable_settings]
            # Layer counts get one scope per network: their defaults differ
            # ("auto" is 4 for hcnn, 1 for bilstm).
            groups = ([[n] for n in using] if setting == "layers"
                      else [using] if using else [])
            for group in groups:
                with hp.conditional_scope(network_name, group):
                    value = self._declare(hp, name, network=group[0])
                if value is not None:
                    values[name] = value

    def trial_hyperparameters(self, hp):
        """Declares the space on `hp`; returns the trial's SageMaker map.

        The map is `hyperparameters`, then `fixed`, then the values `hp`
        holds for this trial (defaults for a fresh `hp`), as typed values.
        """
        values = {**self.base, **self.plan.fixed}
        for name in _GLOBAL:
            values[name] = self._declare(hp, name)
        mlp_layers = self.plan.dimensions.get("mlp_layers")
        if mlp_layers is not None and mlp_layers.low == 0:
            active = list(range(1, int(mlp_layers.high) + 1))
            with hp.conditional_scope("mlp_layers", active):
                for name in ("mlp_dim", "mlp_activation"):
                    value = self._declare(hp, name)
                    if value is not None:
                        values[name] = value
        elif self.plan.mlp:
            for name in ("mlp_dim", "mlp_activation"):
                values[name] = self._declare(hp, name)
        for prefix in ("enc0", "enc1"):
            self._declare_encoder(hp, prefix, values)
        if self.plan.tied and "enc0_token_embedding_dim" in values:
            values["enc1_token_embedding_dim"] = values[
                "enc0_token_embedding_dim"]
        # Names made tunable or fixed beyond the recommended ones, e.g.
        # `embedding_l2`.
        declared = set(_GLOBAL) | {"mlp_dim", "mlp_activation"}
        for name in [*self.plan.dimensions, *self.plan.fixed]:
            if (name not in declared and name not in TUNING_RANGES
                    and name not in PROBLEM_FACTS
                    and not name.endswith("_network")):
                values[name] = self._declare(hp, name)
                declared.add(name)
        return values

    def declare_hyperparameters(self, hp):
        """Registers the whole space, every conditional scope included."""
        self.trial_hyperparameters(hp)

    def sagemaker_hyperparameters(self, hp):
        """The trial's map as SageMaker strings (for `keras-o2v train`)."""
        return to_sagemaker_strings(self.trial_hyperparameters(hp.copy()))

    def build(self, hp):
        """The compiled `Object2Vec` of the trial `hp` (see above)."""
        values = self.trial_hyperparameters(hp)
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        return build_model(values, self.auxiliary, self.seed)

    # === Training ===

    def channel_stats(self, path, spec):
        """`ChannelStats` of a channel, validated once and cached."""
        key = (path, repr(spec))  # RecordSpec holds a dict: not hashable
        if key not in self._stats:
            self._stats[key] = channel_stats(path, spec)
        return self._stats[key]

    @staticmethod
    def _early_stopping(values, monitor):
        return [ResumableEarlyStopping(
                    monitor=monitor,
                    patience=values["early_stopping_patience"],
                    min_delta=values["early_stopping_tolerance"],
                    restore_best_weights=True),
                keras.callbacks.TerminateOnNaN()]

    def _fit_arrays(self, model, x, y, callbacks, epochs, initial_epoch,
                    verbose, **kwargs):
        """`model.fit(x, y, **kwargs)` with the trial's batch, epochs and
        early stopping (on the validation metric when there is validation
        data, see `stopping_monitor`)."""
        values = model.hyperparameters
        monitor = stopping_monitor(
            values, validating=kwargs.get("validation_data") is not None
            or bool(kwargs.get("validation_split")))
        if not isinstance(x, tf.data.Dataset):
            kwargs.setdefault("batch_size", values["mini_batch_size"])
        return model.fit(
            x, y, epochs=epochs, initial_epoch=initial_epoch, verbose=verbose,
            callbacks=list(callbacks or []) + self._early_stopping(values,
                                                                   monitor),
            **kwargs)

    def fit(self, hp, model, train, validation=None, callbacks=None,
            epochs=None, initial_epoch=0, fit_verbose=0, **kwargs):
        """Trains `model` on the channels of the search, or on arrays.

        Args:
            hp: the trial's `HyperParameters` (its values are already in
                `model.hyperparameters`).
            model: the `Object2Vec` model from `build(hp)`.
            train: path of the train channel; or, as `model.fit`'s `x`, a
                dict of arrays or a `tf.data.Dataset` (then `validation` is
                `model.fit`'s `y`, and `validation_data` and the other
                `model.fit` arguments go in `kwargs`).
            validation: path of the validation channel; the objective is
                computed on it.
            callbacks: KerasTuner's callbacks (checkpoint of the best epoch).
            epochs: optional epoch count (Hyperband sets it); defaults to the
                trial's `epochs`.
            initial_epoch: int. First epoch (Hyperband resumes trials).
            fit_verbose: Keras `fit` verbosity. Defaults to 0.
            **kwargs: passed to `model.fit`.

        Returns:
            The Keras `History`.
        """
        values = model.hyperparameters
        if not isinstance(train, (str, os.PathLike)):
            return self._fit_arrays(
                model, train, validation, callbacks,
                values["epochs"] if epochs is None else epochs,
                initial_epoch, kwargs.pop("verbose", fit_verbose), **kwargs)
        if validation is None:
            raise keras_tuner.errors.FatalValueError(
                "`validation` is required: the objective is a validation "
                "metric. Received: validation=None")
        spec = RecordSpec.from_hyperparameters(values)
        stats = {"train": self.channel_stats(train, spec),
                 "validation": self.channel_stats(validation, spec)}
        if not initial_epoch:  # Hyperband's resumed trials keep their bias
            start_at_label_mean(model, stats["train"])
        train_channel, val_channel = make_channels(
            train, validation, spec, values, values["mini_batch_size"],
            seed=self.seed, stats=stats)
        callbacks = list(callbacks or []) + self._early_stopping(
            values, stopping_monitor(values))
        try:
            return fit_channels(
                model, train_channel, val_channel,
                epochs=values["epochs"] if epochs is None else epochs,
                initial_epoch=initial_epoch, callbacks=callbacks,
                verbose=fit_verbose, **kwargs)
        except ValueError as e:
            if e is train_channel.error or e is val_channel.error:
                # Bad data fails every trial alike: stop the search.
                raise keras_tuner.errors.FatalValueError(str(e)) from None
            raise
