"""The search space: SageMaker's tuning ranges, and which names are tuned.

Pure Python (no keras_tuner, no TensorFlow), so a search definition can be
checked anywhere.

Kinds, defaults and valid values of every name come from
`keras_o2v.hyperparameters.SPECS`. This module adds the one thing SPECS does
not hold: the *recommended tuning ranges* of SageMaker's "Tune an Object2Vec
Model" page (listed in the Tuning guide, docs/guide/tuning.md), which are
narrower than the valid values (`enc_dim` is valid up to 10000 but tuned over
4-4096). Where the recommended ranges and SPECS agree (every valid choice of a
categorical name, `dropout` 0-1, the low 4 of `enc_dim`), the value is taken
from SPECS, not written again.

Which names a search tunes (see `plan_search`):

* the core space `enc_dim`, `dropout`, `optimizer` (the design card's) is
  always tuned, even when the base hyperparameters set it (the tuned value
  overrides), unless `fixed` pins it;
* every other name with a recommended range is tuned when the base
  hyperparameters leave it unset, except `epochs` (a budget, not a knob:
  early stopping ends each trial and Hyperband sets it) — or, when `tune` is
  given, only the names it lists;
* every name given a range in `ranges` is tuned over that range. `ranges`
  narrows a recommended range, or makes any other SPECS name tunable (for
  example the keras_o2v extension `embedding_l2`, `comparator_list`,
  `enc0_network`);
* an `encX_*` knob is tuned only for the networks that read it, as the
  encoder registry (`keras_o2v.hyperparameters.ENCODERS`) says;
* `fixed` pins names (`hp.Fixed`); it wins over everything else.

Numbers are sampled on a log scale when the name is in `LOG_SAMPLED` and the
range's low end is above 0, linearly otherwise.
"""

import dataclasses

from keras_o2v.hyperparameters import ENCODER_KNOBS
from keras_o2v.hyperparameters import ENCODERS
from keras_o2v.hyperparameters import SPECS
from keras_o2v.hyperparameters import parse_value

# SageMaker's recommended ranges ("Tune an Object2Vec Model"), written only
# where they are narrower than the valid values in SPECS: `None` for a name or
# a bound means SPECS' (every valid choice, or the valid low or high). A
# written bound must lie strictly inside the valid values (checked below at
# import), so no bound of SPECS is restated here and none can drift from it.
_RECOMMENDED = {
    "dropout": None,
    "early_stopping_patience": None,
    "early_stopping_tolerance": (0.001, None),
    "enc_dim": (None, 4096),
    "enc0_cnn_filter_width": (None, 5),
    "enc0_layers": None,
    "enc0_token_embedding_dim": (5, 300),
    "enc1_cnn_filter_width": (None, 5),
    "enc1_layers": None,
    "enc1_token_embedding_dim": (5, 300),
    "epochs": (4, 20),
    "learning_rate": None,
    "mini_batch_size": (None, 8192),
    "mlp_activation": None,
    "mlp_dim": (16, 1024),
    "mlp_layers": (1, 4),  # 0 (no MLP) is valid but not recommended
    "optimizer": None,
    "weight_decay": (None, 1.0),
}


def _recommended_range(name, bounds):
    """`(low, high)` of a number with SPECS' bounds filled in; None for a
    categorical name (every valid choice, taken from SPECS when used)."""
    spec = SPECS[name]
    if spec.kind == "choice":
        if bounds is not None:
            raise ValueError(f"`{name}` is tuned over every valid choice: "
                             f"its recommended range must be None. "
                             f"Received: {name}={bounds!r}")
        return None
    low, high = bounds or (None, None)
    for bound, valid in ((low, spec.low), (high, spec.high)):
        if bound is not None and not spec.low < bound < spec.high:
            raise ValueError(
                f"A recommended bound of `{name}` must lie strictly inside "
                f"its valid values [{spec.low}, {spec.high}] (write None "
                f"for SPECS' bound {valid}). Received: {name}={bounds!r}")
    return (spec.low if low is None else low,
            spec.high if high is None else high)


# name -> `(low, high)`, or None for a categorical name (every valid choice).
TUNING_RANGES = {name: _recommended_range(name, bounds)
                 for name, bounds in _RECOMMENDED.items()}
CORE = ("enc_dim", "dropout", "optimizer")
# Tuned only when asked (`tune` or `ranges`), see the module docstring.
NOT_TUNED_BY_DEFAULT = ("epochs",)
LOG_SAMPLED = frozenset({
    "bias_l2", "early_stopping_tolerance", "embedding_l2", "enc_dim",
    "enc0_token_embedding_dim", "enc1_token_embedding_dim", "learning_rate",
    "mini_batch_size", "mlp_dim", "weight_decay",
})
# The facts of the problem: they describe the data, so no search changes them.
PROBLEM_FACTS = ("enc0_vocab_size", "enc0_max_seq_len", "enc1_vocab_size",
                 "enc1_max_seq_len", "output_layer", "num_classes")
# The `encX_*` settings a search may tune; which network reads which comes
# from the encoder registry (`EncoderEntry.tunable_settings`).
ENCODER_SETTINGS = (*ENCODER_KNOBS, "token_embedding_dim")
# Used only when `mlp_layers` > 0.
MLP_KNOBS = ("mlp_dim", "mlp_activation")
_TUNABLE_KINDS = ("int", "float", "choice", "bool", "layers", "comparators")


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter.

    `values` is a tuple of choices for categorical names; `low`/`high` bound
    a number. `log` says how numbers are sampled.
    """

    name: str
    low: float = None
    high: float = None
    values: tuple = None
    log: bool = False

    @property
    def is_choice(self):
        return self.values is not None

    @property
    def is_int(self):
        return SPECS[self.name].kind in ("int", "layers")

    def contains(self, value):
        if self.is_choice:
            return value in self.values
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and self.low <= value <= self.high)

    def describe(self):
        if self.is_choice:
            return f"one of {list(self.values)}"
        scale = "log" if self.log else "linear"
        return f"[{self.low}, {self.high}] ({scale})"


def typed(name, value):
    """`value` parsed as `SPECS[name]` says; comparator lists as one string.

    KerasTuner values must be str, int, float or bool.
    """
    parsed = parse_value(name, value)
    if isinstance(parsed, list):
        return ", ".join(parsed)
    return parsed


def _check_name(name, what):
    if name not in SPECS:
        raise ValueError(f"`{what}` names an unknown hyperparameter. "
                         f"Received: {what}={name!r}")
    if name in PROBLEM_FACTS:
        raise ValueError(
            f"`{name}` is a fact of the problem (it describes the data), so "
            f"it cannot be tuned: set it in the hyperparameters. Received: "
            f"{what}={name!r}")
    if SPECS[name].kind not in _TUNABLE_KINDS:
        what_it_is = ("names a file" if SPECS[name].kind == "filename"
                      else "describes the data's fields")
        raise ValueError(f"`{name}` cannot be tuned (it {what_it_is}). "
                         f"Received: {what}={name!r}")


def make_dimension(name, spec=None):
    """A `Dimension` from a user range, or the recommended one for None.

    Args:
        name: a SPECS name.
        spec: `(low, high)` for a number (strings such as `"1e-4"` work), a
            list of choices, or None for SageMaker's recommended range.

    Raises:
        ValueError: naming the hyperparameter, for a bad or empty range or a
            bound outside the valid values in SPECS.
    """
    _check_name(name, "ranges")
    kind = SPECS[name].kind
    if spec is None:
        if name not in TUNING_RANGES:
            raise ValueError(
                f"`{name}` has no recommended tuning range (the Tuning "
                f"guide, docs/guide/tuning.md, lists them): give one in "
                f"`ranges`. Received: tune={name!r}")
        spec = TUNING_RANGES[name]
        if spec is None:
            spec = list(SPECS[name].choices)
    numeric = kind in ("int", "float", "layers")
    if numeric and isinstance(spec, (list, tuple)) and len(spec) == 2:
        low, high = (typed(name, bound) for bound in spec)
        if "auto" in (low, high) or low > high:
            raise ValueError(
                f"The range of `{name}` must be (low, high) with numbers "
                f"low <= high. Received: {name}={spec!r}")
        return Dimension(name, low, high,
                         log=name in LOG_SAMPLED and low > 0)
    if not numeric and isinstance(spec, (list, tuple)) and spec:
        values = tuple(dict.fromkeys(typed(name, value) for value in spec))
        return Dimension(name, values=values)
    expected = ("(low, high)" if numeric else "a non-empty list of choices")
    raise ValueError(f"The range of `{name}` must be {expected}. "
                     f"Received: {name}={spec!r}")


def default_value(name, base, network=None):
    """The value of `name` in `base`, else SageMaker's default.

    `"auto"` layer counts are resolved for `network` when it is given.
    """
    value = typed(name, base[name]) if name in base else SPECS[name].default
    if value == "auto" and network is not None:
        return ENCODERS[network].auto_layers
    if isinstance(value, list):
        return ", ".join(value)
    return value


def dimension_default(dimension, base, network=None):
    """The default of a searched name: the base value, else SageMaker's.

    Either must lie in the range; otherwise the nearest bound (numbers) or
    the first choice is used.
    """
    try:
        value = default_value(dimension.name, base, network)
    except ValueError:
        value = None
    if dimension.contains(value):
        return value
    if dimension.is_choice:
        return dimension.values[0]
    if value is None or isinstance(value, (str, bool)):
        return dimension.low
    return min(max(value, dimension.low), dimension.high)


@dataclasses.dataclass(frozen=True)
class SearchPlan:
    """What a search tunes and fixes.

    Attributes:
        dimensions: dict name -> `Dimension`, the tuned names.
        fixed: dict name -> typed value, the names pinned by the user.
        networks: dict `"enc0"`/`"enc1"` -> tuple of the networks the encoder
            may have (`"enc0"` for enc1 means "copy enc0").
        tied: bool. Whether the token embedding is shared, as far as it is
            known before the search (a tuned `tied_token_embedding_weight`
            counts as False).
        mlp: bool. Whether `mlp_layers` may be above 0.
    """

    dimensions: dict
    fixed: dict
    networks: dict
    tied: bool = False
    mlp: bool = True

    def describe(self):
        """JSON-ready summary, used to check that a resumed search matches."""
        return {
            "tuned": {name: d.describe()
                      for name, d in sorted(self.dimensions.items())},
            "fixed": dict(sorted(self.fixed.items())),
        }


def _setting(name, base, fixed):
    """A name's value outside the search: fixed, else base, else default."""
    if name in fixed:
        return fixed[name]
    return default_value(name, base)


def _possible_networks(prefix, base, fixed, ranges):
    name = f"{prefix}_network"
    if name in ranges:
        return make_dimension(name, ranges[name]).values
    return (_setting(name, base, fixed),)


def _used_by(name, networks):
    """Whether an `encX_*` knob is used by any of `networks`."""
    setting = name[len("enc0_"):]
    return any(setting in ENCODERS[network].tunable_settings
               for network in networks)


def _mlp_possible(base, fixed, ranges, tune):
    """Whether `mlp_layers` may be above 0 (else mlp_dim/activation unused)."""
    if "mlp_layers" in ranges:
        return make_dimension("mlp_layers", ranges["mlp_layers"]).high > 0
    if "mlp_layers" in fixed:
        return fixed["mlp_layers"] > 0
    if tune is not None and "mlp_layers" in tune:
        return True  # tuned over 1-4
    return _setting("mlp_layers", base, fixed) > 0


def _applies(name, networks, tied, mlp=True):
    """Whether tuning `name` can change the model."""
    if name in MLP_KNOBS:
        return mlp
    prefix = name[:4]
    if prefix in ("enc0", "enc1") and name[len("enc0_"):] in ENCODER_SETTINGS:
        concrete = [n for n in networks[prefix] if n != "enc0"]
        if prefix == "enc1" and tied and name.endswith("token_embedding_dim"):
            return False  # tied: enc1 uses enc0's token embedding
        return _used_by(name, concrete)
    return True


def parse_ranges(items, flag="--range"):
    """`["name=low:high", "name=a,b,c", "name=a|b"]` -> `plan_search`'s
    `ranges`: a `(low, high)` tuple or a list of choices (`|` separates
    choices that hold commas)."""
    ranges = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(
                f"`{flag}` must look like name=low:high or name=a,b,c (or "
                f"name=a|b when a choice holds commas). Received: {flag} "
                f"{item!r}")
        if "|" in value:
            spec = [v.strip() for v in value.split("|")]
        elif ":" in value:
            spec = tuple(v.strip() for v in value.split(":"))
        else:
            spec = [v.strip() for v in value.split(",")]
        ranges[name.strip()] = spec
    return ranges


def plan_search(base, tune=None, ranges=None, fixed=None):
    """Decides which names are tuned (and over what) and which are fixed.

    Args:
        base: dict. SageMaker-style map: problem facts and settings.
        tune: optional iterable of names to tune besides the core space. When
            None, every recommended name that `base` leaves unset is tuned
            (except `epochs`), where it applies (an `encX_*` knob only for a
            network that uses it).
        ranges: optional dict name -> `(low, high)` or list of choices. Each
            name is tuned over its range.
        fixed: optional dict name -> value, pinned with `hp.Fixed`.

    Returns:
        `SearchPlan`.

    Raises:
        ValueError: for an unknown or untunable name, a bad range, a name both
            fixed and ranged, or a requested knob that no network uses.
    """
    ranges = dict(ranges or {})
    for name in fixed or {}:
        if name not in SPECS:
            raise ValueError(f"`fixed` names an unknown hyperparameter. "
                             f"Received: fixed={name!r}")
    fixed = {name: typed(name, value) for name, value in (fixed or {}).items()}
    both = sorted(set(ranges) & set(fixed))
    if both:
        raise ValueError(f"A hyperparameter cannot be both fixed and given "
                         f"a range. Received: {both}")
    if isinstance(tune, str):
        raise ValueError(f"`tune` must be a list of names. Received: "
                         f"tune={tune!r}")
    networks = {prefix: _possible_networks(prefix, base, fixed, ranges)
                for prefix in ("enc0", "enc1")}
    tied = ("tied_token_embedding_weight" not in ranges and _setting(
        "tied_token_embedding_weight", base, fixed) is True)
    mlp = _mlp_possible(base, fixed, ranges, tune)
    if tune is None:
        requested = []
        names = [name for name in TUNING_RANGES
                 if name not in base and name not in NOT_TUNED_BY_DEFAULT
                 and _applies(name, networks, tied, mlp)]
    else:
        requested = list(tune)
        names = requested
    names = list(dict.fromkeys([*CORE, *names, *ranges]))
    dimensions = {}
    for name in names:
        if name in fixed:
            continue
        dimension = make_dimension(name, ranges.get(name))
        if (name in ranges or name in requested) and not _applies(
                name, networks, tied, mlp):
            if name in MLP_KNOBS:
                raise ValueError(
                    f"`{name}` cannot be tuned here: `mlp_layers` is 0, so "
                    f"there is no MLP. Received: tune={name!r}")
            raise ValueError(
                f"`{name}` cannot be tuned here: no network that "
                f"`{name[:4]}_network` may take ({list(networks[name[:4]])}) "
                f"uses it"
                + (", and tied_token_embedding_weight=True makes enc1 use "
                   "enc0's token embedding" if tied else "")
                + f". Received: tune={name!r}")
        if not dimension.is_choice and dimension.low == dimension.high:
            fixed[name] = dimension.low  # a one-point range is a fixed value
        elif dimension.is_choice and len(dimension.values) == 1:
            fixed[name] = dimension.values[0]
        else:
            dimensions[name] = dimension
    return SearchPlan(dimensions, fixed, networks, tied, mlp)


def encoder_knobs(prefix, network):
    """The `encX_*` names that `network` uses, e.g. hcnn -> layers, width."""
    used = ENCODERS[network].tunable_settings
    return [f"{prefix}_{setting}" for setting in ENCODER_SETTINGS
            if setting in used]
