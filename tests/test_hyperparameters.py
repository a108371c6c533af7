import pytest

from keras_o2v.hyperparameters import EXTENSIONS
from keras_o2v.hyperparameters import SPECS
from keras_o2v.hyperparameters import defaults
from keras_o2v.hyperparameters import parse_value
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.hyperparameters import to_sagemaker_strings

REQUIRED = {"enc0_max_seq_len": "10", "enc0_vocab_size": "100"}

# OBJECT2VEC.md §1, transcribed independently of keras_o2v: name -> (default,
# low, high) for numbers; (default, valid choices) for the others.
NUMERIC = {
    "enc0_max_seq_len": (None, 1, 5000),
    "enc0_vocab_size": (None, 2, 3_000_000),
    "enc1_max_seq_len": (None, 1, 5000),
    "enc1_vocab_size": (None, 2, 3_000_000),
    "bucket_width": (0, 0, 100),
    "dropout": (0.0, 0.0, 1.0),
    "early_stopping_patience": (3, 1, 5),
    "early_stopping_tolerance": (0.01, 0.000001, 0.1),
    "enc_dim": (4096, 4, 10000),
    "enc0_cnn_filter_width": (3, 1, 9),
    "enc1_cnn_filter_width": (3, 1, 9),
    "enc0_token_embedding_dim": (300, 2, 1000),
    "enc1_token_embedding_dim": (300, 2, 1000),
    "epochs": (30, 1, 100),
    "learning_rate": (0.0004, 1e-6, 1.0),
    "mini_batch_size": (32, 1, 10000),
    "mlp_dim": (512, 2, 10000),
    "mlp_layers": (2, 0, 10),
    "negative_sampling_rate": (0, 0, None),
    "num_classes": (2, 2, 30),
    "weight_decay": (0.0, 0.0, 10000.0),
}
CHOICES = {
    "enc0_network": ("hcnn", ["hcnn", "bilstm", "pooled_embedding"]),
    "enc1_network": ("enc0", ["enc0", "hcnn", "bilstm", "pooled_embedding"]),
    "mlp_activation": ("linear", ["tanh", "relu", "linear"]),
    "optimizer": ("adam", ["adadelta", "adagrad", "adam", "sgd", "rmsprop"]),
    "output_layer": ("softmax", ["softmax", "mean_squared_error"]),
    "token_embedding_storage_type": ("dense", ["dense", "row_sparse"]),
    "enc0_freeze_pretrained_embedding": (True, [True, False]),
    "enc1_freeze_pretrained_embedding": (True, [True, False]),
    "tied_token_embedding_weight": (False, [True, False]),
    "enc0_layers": ("auto", ["auto", 1, 2, 3, 4]),
    "enc1_layers": ("auto", ["auto", 1, 2, 3, 4]),
    "enc0_pretrained_embedding_file": ("", ["", "glove.6B.50d.txt"]),
    "enc1_pretrained_embedding_file": ("", ["", "vectors_1.txt"]),
    "enc0_vocab_file": ("", ["", "vocab.json"]),
    "enc1_vocab_file": ("", ["", "vocab.json"]),
    "comparator_list": (["hadamard", "concat", "abs_diff"],
                        [["hadamard"], ["abs_diff", "concat"]]),
}


def test_every_documented_hyperparameter_is_known():
    assert set(SPECS) - set(EXTENSIONS) == set(NUMERIC) | set(CHOICES)
    assert EXTENSIONS == ("embedding_l2", "tied_encoder_weights",
                          "enc0_fields", "enc1_fields", "enc0_id_bias",
                          "enc1_id_bias", "bias_l2", "enc0_activation",
                          "enc1_activation")
    # Every extension is off by default: SageMaker behaviour.
    assert {name: defaults()[name] for name in EXTENSIONS} == {
        "embedding_l2": 0.0, "tied_encoder_weights": False,
        "enc0_fields": [], "enc1_fields": [], "enc0_id_bias": False,
        "enc1_id_bias": False, "bias_l2": 0.0, "enc0_activation": "linear",
        "enc1_activation": "linear"}


@pytest.mark.parametrize("name", sorted(NUMERIC))
def test_numeric_default_and_range(name):
    default, low, high = NUMERIC[name]
    if default is not None:
        assert defaults()[name] == default
    assert parse_value(name, str(low)) == low
    below = low - (1 if isinstance(low, int) else low / 2 or 0.1)
    with pytest.raises(ValueError, match=f"`{name}` must be "):
        parse_value(name, below)
    if high is not None:
        assert parse_value(name, str(high)) == high
        above = high + (1 if isinstance(high, int) else 0.5)
        with pytest.raises(ValueError, match=f"Received: {name}="):
            parse_value(name, above)


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_choice_default_and_values(name):
    default, valid = CHOICES[name]
    assert defaults()[name] == default
    for value in valid:
        assert parse_value(name, value) == value


def test_error_message_format():
    with pytest.raises(ValueError) as e:
        resolve_hyperparameters(REQUIRED, enc_dim=2)
    assert str(e.value) == ("`enc_dim` must be an integer in [4, 10000]. "
                            "Received: enc_dim=2")


@pytest.mark.parametrize("name,value", [
    ("enc_dim", "abc"), ("enc_dim", "4.5"), ("enc_dim", True),
    ("dropout", "nan"), ("tied_token_embedding_weight", "yes"),
    ("optimizer", "adamw"), ("enc0_layers", "5"), ("enc0_layers", "many"),
    ("enc0_vocab_file", "../etc/passwd"), ("comparator_list", "dot"),
])
def test_invalid_values(name, value):
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        parse_value(name, value)


def test_string_map_is_parsed():
    hp = resolve_hyperparameters({
        **REQUIRED, "enc0_layers": "auto",
        "tied_token_embedding_weight": "True",
        "comparator_list": "hadamard, concat, abs_diff", "epochs": "20",
        "learning_rate": "1e-3", "dropout": "0.2", "mlp_layers": "0",
    })
    assert hp["tied_token_embedding_weight"] is True
    assert hp["comparator_list"] == ["hadamard", "concat", "abs_diff"]
    assert hp["epochs"] == 20 and hp["learning_rate"] == 0.001
    assert hp["mlp_layers"] == 0 and hp["dropout"] == 0.2


def test_required_values():
    with pytest.raises(ValueError, match="`enc0_vocab_size` is required"):
        resolve_hyperparameters(enc0_max_seq_len=3)


def test_unknown_name_suggests_a_fix():
    with pytest.raises(ValueError, match="'enc_dims' \\(did you mean "
                                         "'enc_dim'\\?\\)"):
        resolve_hyperparameters(REQUIRED, enc_dims=8)


def test_hidden_mxnet_hyperparameters_are_accepted():
    hp = resolve_hyperparameters({**REQUIRED, "_kvstore": "device",
                                  "_num_gpus": "auto",
                                  "_num_kv_servers": "auto"})
    assert "_kvstore" not in hp


def test_auto_layers_resolve_per_network():
    hp = resolve_hyperparameters(REQUIRED, enc0_network="hcnn",
                                 enc1_network="bilstm", enc1_vocab_size=50,
                                 enc1_max_seq_len=4)
    assert hp["enc0_layers"] == 4 and hp["enc1_layers"] == 1
    hp = resolve_hyperparameters(REQUIRED, enc0_network="bilstm",
                                 enc0_layers="3")
    assert hp["enc0_layers"] == 3 and hp["enc1_layers"] == 3


def test_enc1_copies_enc0_explicitly():
    hp = resolve_hyperparameters(REQUIRED, enc0_network="bilstm",
                                 enc0_token_embedding_dim=50)
    assert hp["enc1_network"] == "bilstm"
    assert hp["enc1_vocab_size"] == 100 and hp["enc1_max_seq_len"] == 10
    assert hp["enc1_token_embedding_dim"] == 50


def test_enc1_setting_that_enc0_copy_would_override_is_an_error():
    # aws/sagemaker-python-sdk#834: enc1_vocab_size silently ignored.
    with pytest.raises(ValueError, match="`enc1_vocab_size=3` conflicts with "
                                         "`enc1_network='enc0'`"):
        resolve_hyperparameters({**REQUIRED, "enc1_vocab_size": "3"})
    # The same value as enc0's is no conflict.
    resolve_hyperparameters({**REQUIRED, "enc1_vocab_size": "100"})


def test_enc1_sizes_required_for_its_own_network():
    with pytest.raises(ValueError, match="`enc1_vocab_size` is required when "
                                         "`enc1_network` is 'hcnn'"):
        resolve_hyperparameters(REQUIRED, enc1_network="hcnn",
                                enc1_max_seq_len=5)


def test_pooled_token_dim_follows_enc_dim_unless_set():
    hp = resolve_hyperparameters(REQUIRED, enc0_network="pooled_embedding",
                                 enc_dim=64)
    assert hp["enc0_token_embedding_dim"] == 64
    hp = resolve_hyperparameters(REQUIRED, enc0_network="pooled_embedding",
                                 enc_dim=64, enc0_token_embedding_dim=50)
    assert hp["enc0_token_embedding_dim"] == 50  # kept, never overridden


def test_tied_embedding_needs_equal_sizes():
    with pytest.raises(ValueError, match="shares one token embedding, so "
                                         "`enc1_vocab_size` must equal "
                                         "`enc0_vocab_size`. Received: "
                                         "enc0_vocab_size=100, "
                                         "enc1_vocab_size=50"):
        resolve_hyperparameters(REQUIRED, tied_token_embedding_weight="True",
                                enc1_network="hcnn", enc1_vocab_size=50,
                                enc1_max_seq_len=4)


def test_tied_encoders_imply_tied_embedding_and_need_enc1_as_enc0():
    hp = resolve_hyperparameters(REQUIRED, tied_encoder_weights="True")
    assert hp["tied_encoder_weights"] is True
    assert hp["tied_token_embedding_weight"] is True
    assert resolve_hyperparameters(hp) == hp
    # enc1 may read a different length: one encoder takes any length.
    hp = resolve_hyperparameters(REQUIRED, tied_encoder_weights=True,
                                 enc1_network="hcnn", enc1_vocab_size=100,
                                 enc1_max_seq_len=3)
    assert hp["enc1_max_seq_len"] == 3
    with pytest.raises(ValueError, match="`enc1_network` must equal "
                                         "`enc0_network`.*Received: "
                                         "enc0_network='hcnn', "
                                         "enc1_network='bilstm'"):
        resolve_hyperparameters(REQUIRED, tied_encoder_weights=True,
                                enc1_network="bilstm", enc1_vocab_size=100,
                                enc1_max_seq_len=3)
    with pytest.raises(ValueError, match="`enc1_layers` must equal"):
        resolve_hyperparameters(REQUIRED, tied_encoder_weights=True,
                                enc1_network="hcnn", enc1_vocab_size=100,
                                enc1_max_seq_len=3, enc1_layers=2)
    with pytest.raises(ValueError, match="`tied_token_embedding_weight` "
                                         "cannot be False"):
        resolve_hyperparameters(REQUIRED, tied_encoder_weights=True,
                                tied_token_embedding_weight=False)


def test_negative_sampling_needs_softmax():
    with pytest.raises(ValueError, match="needs `output_layer='softmax'`"):
        resolve_hyperparameters(REQUIRED, negative_sampling_rate=2,
                                output_layer="mean_squared_error")


def test_resolved_dict_round_trips():
    hp = resolve_hyperparameters(REQUIRED, enc0_network="pooled_embedding",
                                 enc_dim=16, comparator_list="concat")
    assert resolve_hyperparameters(hp) == hp
    assert resolve_hyperparameters(to_sagemaker_strings(hp)) == hp


def test_pooled_token_dim_may_follow_an_enc_dim_above_1000():
    # The movie-recommendation notebook: pooled encoders with enc_dim 1024.
    hp = resolve_hyperparameters(REQUIRED, enc0_network="pooled_embedding",
                                 enc_dim="1024")
    assert hp["enc0_token_embedding_dim"] == 1024
    assert resolve_hyperparameters(hp) == hp
    with pytest.raises(ValueError, match="`enc0_token_embedding_dim` must be"):
        resolve_hyperparameters(REQUIRED, enc0_network="pooled_embedding",
                                enc_dim=1024, enc0_token_embedding_dim=1001)


def test_layers_of_a_network_without_layers_is_ignored_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="keras_o2v.hyperparameters"):
        hp = resolve_hyperparameters(REQUIRED, enc0_network="pooled_embedding",
                                     enc0_layers=3)
    assert hp["enc0_layers"] == 3
    assert "`enc0_layers` is ignored: pooled_embedding has no layers" in (
        caplog.text)
    caplog.clear()
    with caplog.at_level("WARNING", logger="keras_o2v.hyperparameters"):
        resolve_hyperparameters(REQUIRED, enc0_network="bilstm", enc0_layers=3)
    assert "ignored" not in caplog.text
