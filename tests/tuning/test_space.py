"""The search space: SageMaker's defaults and ranges, fixing and narrowing."""

import os
import re

import keras_tuner
import pytest

from keras_o2v.hyperparameters import SPECS
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.tuning import CORE
from keras_o2v.tuning import TUNING_RANGES
from keras_o2v.tuning import Object2VecHyperModel
from keras_o2v.tuning.space import _recommended_range
from tests.conftest import SHARED_DATA

# OBJECT2VEC.md §1.1, verbatim ("Tune an Object2Vec Model").
SECTION_1_1 = {
    "dropout": (0.0, 1.0),
    "early_stopping_patience": (1, 5),
    "early_stopping_tolerance": (0.001, 0.1),
    "enc_dim": (4, 4096),
    "enc0_cnn_filter_width": (1, 5),
    "enc0_layers": (1, 4),
    "enc0_token_embedding_dim": (5, 300),
    "enc1_cnn_filter_width": (1, 5),
    "enc1_layers": (1, 4),
    "enc1_token_embedding_dim": (5, 300),
    "epochs": (4, 20),
    "learning_rate": (1e-6, 1.0),
    "mini_batch_size": (1, 8192),
    "mlp_activation": ["tanh", "relu", "linear"],
    "mlp_dim": (16, 1024),
    "mlp_layers": (1, 4),
    "optimizer": ["adagrad", "adam", "rmsprop", "sgd", "adadelta"],
    "weight_decay": (0.0, 1.0),
}
SPEC_MD = os.path.join(SHARED_DATA, "..", "OBJECT2VEC.md")
# Two separate hcnn encoders: every §1.1 name applies.
FACTS = {"enc0_network": "hcnn", "enc0_vocab_size": "50",
         "enc0_max_seq_len": "6", "enc1_network": "hcnn",
         "enc1_vocab_size": "40", "enc1_max_seq_len": "4"}
ENC0_ONLY = {"enc0_network": "hcnn", "enc0_vocab_size": "50",
             "enc0_max_seq_len": "6"}


def space(hypermodel, hp=None):
    hp = hp or keras_tuner.HyperParameters()
    values = hypermodel.trial_hyperparameters(hp)
    return hp, {h.name: h for h in hp.space if hp.is_active(h)}, values


def test_section_1_1_table_matches_the_spec_document():
    if not os.path.exists(SPEC_MD):
        pytest.skip(f"no {SPEC_MD}")
    text = open(SPEC_MD).read()
    section = text[text.index("### 1.1"):text.index("### 1.2")]
    rows = dict(re.findall(r"^\| (\w+) \| \w+Range\w* \| (.+) \|$", section,
                           re.M))
    assert set(rows) == set(SECTION_1_1)
    for name, cell in rows.items():
        expected = SECTION_1_1[name]
        if isinstance(expected, list):
            assert re.findall(r"`(\w+)`", cell) == expected
        else:
            assert [float(x) for x in re.findall(r"[\d.]+(?:e-?\d+)?",
                                                 cell)] == list(expected)


def test_tuning_ranges_are_section_1_1_and_inside_the_valid_values():
    assert set(TUNING_RANGES) == set(SECTION_1_1)
    for name, expected in SECTION_1_1.items():
        spec = SPECS[name]
        if isinstance(expected, list):
            assert TUNING_RANGES[name] is None  # taken from SPECS
            assert set(spec.choices) == set(expected)
        else:
            assert TUNING_RANGES[name] == expected
            assert spec.low <= expected[0] <= expected[1] <= spec.high


@pytest.mark.parametrize("name, bounds, message", [
    ("dropout", (0.0, 1.0), "strictly inside"),  # SPECS' bounds, restated
    ("enc_dim", (4, 4096), "write None for SPECS' bound 4"),
    ("enc_dim", (None, 20000), "strictly inside"),
    ("optimizer", ("adam", "sgd"), "must be None"),
])
def test_recommended_ranges_may_not_restate_specs(name, bounds, message):
    with pytest.raises(ValueError, match=message):
        _recommended_range(name, bounds)


def test_build_declares_section_1_1_ranges_with_log_sampling():
    _, declared, _ = space(Object2VecHyperModel(FACTS, tune=list(
        TUNING_RANGES)))
    assert set(declared) == set(SECTION_1_1) | {"enc0_network",
                                                "enc1_network"}
    for name, expected in SECTION_1_1.items():
        hp = declared[name]
        if isinstance(expected, list):
            assert sorted(hp.values) == sorted(expected), name
        else:
            assert (hp.min_value, hp.max_value) == pytest.approx(expected)
    for name in ("enc_dim", "learning_rate", "mini_batch_size", "mlp_dim"):
        assert declared[name].sampling == "log", name
    assert declared["dropout"].sampling == "linear"


def test_build_defaults_are_sagemaker_defaults():
    hypermodel = Object2VecHyperModel(FACTS)
    hp, declared, values = space(hypermodel)
    sagemaker = resolve_hyperparameters(FACTS)  # every default, resolved
    for name, value in hp.values.items():
        assert value == sagemaker[name], name
    assert hp.values["enc_dim"] == 4096
    assert hp.values["enc0_layers"] == hp.values["enc1_layers"] == 4  # auto
    assert hp.values["optimizer"] == "adam"
    assert hp.values["learning_rate"] == pytest.approx(4e-4)
    # Every §1.1 name but epochs is tuned when the map leaves it unset.
    tuned = {n for n, h in declared.items()
             if not isinstance(h, keras_tuner.engine.hyperparameters.Fixed)}
    assert tuned == set(SECTION_1_1) - {"epochs"}
    assert resolve_hyperparameters(values) == sagemaker


def test_core_is_always_tuned_other_given_names_are_fixed():
    hypermodel = Object2VecHyperModel(
        {**FACTS, "enc_dim": "64", "dropout": "0.2", "mlp_dim": "32",
         "learning_rate": "0.01"})
    hp, declared, values = space(hypermodel)
    for name in CORE:
        assert type(declared[name]).__name__ in ("Int", "Float", "Choice")
    # The given values are the defaults of the core and fixed for the rest.
    assert hp.values["enc_dim"] == 64 and hp.values["dropout"] == 0.2
    assert type(declared["mlp_dim"]).__name__ == "Fixed"
    assert values["mlp_dim"] == 32 and values["learning_rate"] == 0.01


def test_fixed_narrowed_and_extra_names():
    hypermodel = Object2VecHyperModel(
        FACTS, tune=["learning_rate"], fixed={"enc_dim": "16"},
        ranges={"dropout": ("0.1", "0.3"), "optimizer": ["adam", "sgd"],
                "embedding_l2": (0.01, 1.0)})
    hp, declared, values = space(hypermodel)
    assert type(declared["enc_dim"]).__name__ == "Fixed"
    assert values["enc_dim"] == 16
    assert (declared["dropout"].min_value,
            declared["dropout"].max_value) == (0.1, 0.3)
    assert hp.values["dropout"] == 0.1  # SageMaker's 0.0, clipped
    assert declared["optimizer"].values == ["adam", "sgd"]
    assert declared["embedding_l2"].sampling == "log"
    assert type(declared["learning_rate"]).__name__ == "Float"
    # `tune` given: the other §1.1 names keep SageMaker's defaults.
    assert type(declared["mlp_dim"]).__name__ == "Fixed"
    assert type(declared["enc0_layers"]).__name__ == "Fixed"


def test_encoder_knobs_are_conditional_on_the_network():
    hypermodel = Object2VecHyperModel(
        ENC0_ONLY, tune=["enc0_layers", "enc0_cnn_filter_width",
                         "enc0_token_embedding_dim"],
        ranges={"enc0_network": ["hcnn", "bilstm", "pooled_embedding"]})
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    conditions = {(h.name, tuple(c.values[0] for c in h.conditions))
                  for h in hp.space if h.name.startswith("enc0_")
                  and h.conditions}
    assert conditions == {
        ("enc0_layers", ("hcnn",)), ("enc0_layers", ("bilstm",)),
        ("enc0_cnn_filter_width", ("hcnn",)),
        ("enc0_token_embedding_dim", ("hcnn",)),
    }
    assert not any(h.name.startswith("enc1_") and h.name != "enc1_network"
                   for h in hp.space)  # enc1 copies enc0
    hp.values["enc0_network"] = "pooled_embedding"
    _, declared, values = space(hypermodel, hp)
    assert "enc0_cnn_filter_width" not in declared
    assert "enc0_cnn_filter_width" not in values
    hp.values["enc0_network"] = "bilstm"
    _, declared, _ = space(hypermodel, hp)
    assert declared["enc0_layers"].default == 1


def test_mlp_knobs_are_conditional_when_mlp_layers_may_be_zero():
    hypermodel = Object2VecHyperModel(
        FACTS, ranges={"mlp_layers": (0, 2)}, tune=["mlp_dim"])
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    (mlp_dim,) = [h for h in hp.space if h.name == "mlp_dim"]
    assert mlp_dim.conditions[0].values == [1, 2]
    without = Object2VecHyperModel({**FACTS, "mlp_layers": "0"})
    _, declared, _ = space(without)
    assert "mlp_dim" not in declared


def test_build_returns_a_compiled_model_of_the_trial():
    hypermodel = Object2VecHyperModel(
        {"enc0_network": "pooled_embedding", "enc0_vocab_size": "30",
         "enc0_max_seq_len": "3", "output_layer": "mean_squared_error"},
        ranges={"enc_dim": (4, 8)}, seed=0)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert model.hyperparameters["enc_dim"] == 8
    assert model.hyperparameters["enc0_token_embedding_dim"] == 8
    assert model.optimizer is not None
    hp.values["enc_dim"] = 5
    assert hypermodel.build(hp).hyperparameters["enc_dim"] == 5


@pytest.mark.parametrize("kwargs, message", [
    ({"ranges": {"enc0_vocab_size": (2, 9)}}, "`enc0_vocab_size` is a fact"),
    ({"ranges": {"enc_dim": (2, 64)}},
     r"`enc_dim` must be an integer in \[4, 10000\]"),
    ({"ranges": {"enc_dim": (64, 16)}}, "low <= high"),
    ({"ranges": {"optimizer": []}}, "non-empty list of choices"),
    ({"ranges": {"optimizer": ["adam", "lbfgs"]}}, "`optimizer` must be one"),
    ({"ranges": {"dropout": (0, 1)}, "fixed": {"dropout": 0}},
     "both fixed and given a range"),
    ({"tune": ["embedding_l2"]}, "no recommended tuning range"),
    ({"tune": ["enc1_layers"]}, "`enc1_layers` cannot be tuned here"),
    ({"tune": "enc_dim"}, "`tune` must be a list"),
    ({"fixed": {"enc_dims": 4}}, "Unknown hyperparameter.*'enc_dim'"),
])
def test_bad_search_definitions_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Object2VecHyperModel(ENC0_ONLY, **kwargs)


def test_missing_problem_fact_raises():
    with pytest.raises(ValueError, match="`enc0_vocab_size` is required"):
        Object2VecHyperModel({"enc0_max_seq_len": "3"})


def test_docstring_example_runs():
    import keras_o2v.tuning

    doc = Object2VecHyperModel.__doc__
    code = doc[doc.index("```python") + 9:doc.rindex("```")]
    code = "\n".join(line[4:] for line in code.splitlines())
    namespace = {"keras_o2v": keras_o2v, "keras_tuner": keras_tuner}
    exec(code.replace('hp.get("enc_dim")', 'result = hp.get("enc_dim")'),
         namespace)
    assert namespace["result"] == 256
    assert namespace["model"].hyperparameters["mini_batch_size"] == 64
