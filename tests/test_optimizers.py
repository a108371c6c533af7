"""Lazy row updates of `keras_o2v.optimizers` (token_embedding_storage_type
="row_sparse")."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.models.object2vec import make_optimizer
from keras_o2v.optimizers import LAZY_OPTIMIZERS
from keras_o2v.optimizers import LazyAdagrad
from keras_o2v.optimizers import LazyAdam
from keras_o2v.optimizers import LazySGD

# Sparse (`tf.IndexedSlices`) gradients exist on TensorFlow only; other
# backends refuse row_sparse (tests/backends/test_backend_features.py).
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="row_sparse lazy updates need the TensorFlow backend")

STOCK = {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad,
         "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
         "adadelta": keras.optimizers.Adadelta}
# (optimizer, constructor kwargs): defaults plus the variants with more slots.
CASES = {
    "sgd": ("sgd", {}),
    "sgd_momentum": ("sgd", {"momentum": 0.9}),
    "sgd_nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("adagrad", {}),
    "adam": ("adam", {}),
    "adam_amsgrad": ("adam", {"amsgrad": True}),
    "rmsprop": ("rmsprop", {}),
    "rmsprop_centered_momentum": ("rmsprop", {"centered": True,
                                              "momentum": 0.5}),
    "adadelta": ("adadelta", {}),
}
VOCAB, DIM = 8, 3
IDS = [5, 1, 5, 6]  # row 5 twice: its two gradient rows are summed
TOUCHED, UNTOUCHED = [1, 5, 6], [0, 2, 3, 4, 7]


def table():
    return np.random.default_rng(0).normal(size=(VOCAB, DIM)).astype("float32")


def sparse(ids, seed=1):
    values = np.random.default_rng(seed).normal(size=(len(ids), DIM))
    return tf.IndexedSlices(tf.constant(values, "float32"),
                            tf.constant(ids, "int32"),
                            tf.constant([VOCAB, DIM], "int64"))


def make(case, lazy=True, **kwargs):
    name, extra = CASES[case]
    cls = LAZY_OPTIMIZERS[name] if lazy else STOCK[name]
    return cls(learning_rate=0.1, **extra, **kwargs)


def slots(optimizer):
    """Optimizer variables shaped like the table (not iterations, lr)."""
    return [v.numpy() for v in optimizer.variables
            if tuple(v.shape) == (VOCAB, DIM)]


@pytest.mark.parametrize("case", CASES)
def test_sparse_step_touches_only_batch_rows(case):
    optimizer = make(case, weight_decay=0.1)
    var = keras.Variable(table())
    # A dense step first, so every slot row holds a non-zero value.
    optimizer.apply([tf.ones((VOCAB, DIM))], [var])
    before, slots_before = var.numpy(), slots(optimizer)
    optimizer.apply([sparse(IDS)], [var])
    after = var.numpy()
    np.testing.assert_array_equal(after[UNTOUCHED], before[UNTOUCHED])
    assert (after[TOUCHED] != before[TOUCHED]).all()
    for old, new in zip(slots_before, slots(optimizer)):
        np.testing.assert_array_equal(new[UNTOUCHED], old[UNTOUCHED])
        assert (new[TOUCHED] != old[TOUCHED]).any()


@pytest.mark.parametrize("case", CASES)
def test_first_step_equals_keras_on_touched_rows(case):
    # From fresh (zero) slots an absent row's slots stay zero in Keras too,
    # so one lazy step equals the dense one on the touched rows, decay
    # included; the untouched rows are left exactly as they were.
    lazy, stock = keras.Variable(table()), keras.Variable(table())
    make(case, weight_decay=0.1).apply([sparse(IDS)], [lazy])
    make(case, lazy=False, weight_decay=0.1).apply(
        [tf.convert_to_tensor(sparse(IDS))], [stock])
    np.testing.assert_allclose(lazy.numpy()[TOUCHED],
                               stock.numpy()[TOUCHED], atol=1e-6)
    np.testing.assert_array_equal(lazy.numpy()[UNTOUCHED],
                                  table()[UNTOUCHED])


@pytest.mark.parametrize("name", ["sgd", "adagrad"])
def test_sgd_and_adagrad_equal_keras_dense_every_step(name):
    # A zero gradient leaves a row (and its accumulator) unchanged, so lazy
    # == dense whenever weight decay is off.
    lazy, stock = keras.Variable(table()), keras.Variable(table())
    lazy_opt, stock_opt = make(name), make(name, lazy=False)
    for seed, ids in enumerate([IDS, [2, 2, 7], [1, 7, 0, 1]]):
        lazy_opt.apply([sparse(ids, seed)], [lazy])
        stock_opt.apply([tf.convert_to_tensor(sparse(ids, seed))], [stock])
    np.testing.assert_allclose(lazy.numpy(), stock.numpy(), atol=1e-6)


def test_adam_matches_numpy_lazy_update():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    optimizer = LazyAdam(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    var = keras.Variable(table())
    w = table().astype("float64")
    m, v = np.zeros((VOCAB, DIM)), np.zeros((VOCAB, DIM))
    snapshots = []
    for t, (ids, seed) in enumerate([([1, 4, 1], 1), ([2, 4], 2)], start=1):
        grad = sparse(ids, seed)
        optimizer.apply([grad], [var])
        snapshots.append(var.numpy())
        g = np.zeros((VOCAB, DIM))
        np.add.at(g, ids, grad.values.numpy())
        rows = sorted(set(ids))
        # Only the batch's rows; bias correction from the global step t.
        m[rows] = b1 * m[rows] + (1 - b1) * g[rows]
        v[rows] = b2 * v[rows] + (1 - b2) * g[rows] ** 2
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + eps)
    np.testing.assert_allclose(var.numpy(), w, atol=1e-6)
    # Row 1 sat out step 2: lazy Adam left it alone (dense Adam would have
    # moved it with its non-zero momentum).
    np.testing.assert_array_equal(snapshots[1][1], snapshots[0][1])


def test_duplicate_indices_are_summed():
    values = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0], [0.5, 0.5, 0.5]],
                      "float32")
    shape = tf.constant([VOCAB, DIM], "int64")
    repeated = tf.IndexedSlices(tf.constant(values), tf.constant([3, 1, 3]),
                                shape)
    merged = tf.IndexedSlices(tf.constant([values[0] + values[2], values[1]]),
                              tf.constant([3, 1]), shape)
    a, b = keras.Variable(table()), keras.Variable(table())
    LazyAdam(learning_rate=0.1).apply([repeated], [a])
    LazyAdam(learning_rate=0.1).apply([merged], [b])
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-7)


def test_weight_decay_is_lazy_and_honours_exclusions():
    optimizer = LazySGD(learning_rate=0.5, weight_decay=0.2)
    var = keras.Variable(np.ones((VOCAB, DIM), "float32"))
    excluded = keras.Variable(np.ones((VOCAB, DIM), "float32"))
    optimizer.exclude_from_weight_decay(var_list=[excluded])
    grad = tf.IndexedSlices(tf.ones((1, DIM)), tf.constant([2]),
                            tf.constant([VOCAB, DIM], "int64"))
    optimizer.apply([grad, grad], [var, excluded])
    # row 2: decay 1 - 0.5 * 0.2 * 1 = 0.9, then minus 0.5 * 1 -> 0.4
    expected = np.ones((VOCAB, DIM))
    expected[2] = 0.4
    np.testing.assert_allclose(var.numpy(), expected, atol=1e-7)
    expected[2] = 0.5  # no decay: 1 - 0.5 * 1
    np.testing.assert_allclose(excluded.numpy(), expected, atol=1e-7)


@pytest.mark.parametrize("name", sorted(STOCK))
def test_dense_gradients_get_the_keras_update(name):
    lazy, stock = keras.Variable(table()), keras.Variable(table())
    lazy_opt, stock_opt = make(name, weight_decay=0.1), make(
        name, lazy=False, weight_decay=0.1)
    for seed in (1, 2):
        grad = tf.convert_to_tensor(sparse(IDS, seed)) + 0.1
        lazy_opt.apply([grad], [lazy])
        stock_opt.apply([grad], [stock])
    np.testing.assert_allclose(lazy.numpy(), stock.numpy(), atol=1e-6)


def test_step_compiles_with_xla():
    eager, compiled = keras.Variable(table()), keras.Variable(table())
    LazyAdam(learning_rate=0.1).apply([sparse(IDS)], [eager])
    optimizer = LazyAdam(learning_rate=0.1)
    optimizer.build([compiled])
    tf.function(lambda: optimizer.apply([sparse(IDS)], [compiled]),
                jit_compile=True)()
    np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-6)


@pytest.mark.parametrize("name", sorted(STOCK))
def test_make_optimizer_picks_the_lazy_class(name):
    # row_sparse rejects no other setting (README: weight decay turns lazy).
    hp = resolve_hyperparameters(
        enc0_vocab_size=10, enc0_max_seq_len=4, optimizer=name,
        learning_rate=0.01, weight_decay=0.5, embedding_l2=0.1,
        tied_token_embedding_weight=True,
        token_embedding_storage_type="row_sparse")
    optimizer = make_optimizer(hp)
    assert type(optimizer) is LAZY_OPTIMIZERS[name]
    assert optimizer.weight_decay == pytest.approx(0.5)
    dense = make_optimizer({**hp, "token_embedding_storage_type": "dense"})
    assert type(dense) is STOCK[name]


def test_serialisation_round_trip_needs_no_custom_objects():
    optimizer = LazyAdagrad(learning_rate=0.03, weight_decay=0.1)
    config = json.loads(json.dumps(keras.optimizers.serialize(optimizer)))
    assert config["registered_name"] == "keras_o2v>LazyAdagrad"
    revived = keras.optimizers.deserialize(config)
    assert type(revived) is LazyAdagrad
    assert revived.get_config() == optimizer.get_config()
