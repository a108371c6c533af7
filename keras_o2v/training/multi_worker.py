"""Workaround for `fit` under MultiWorkerMirroredStrategy in Keras 3.

Keras 3 (seen with 3.15; upstream keras-team/keras#20585, #20329) fails two
ways when `fit` runs under `tf.distribute.MultiWorkerMirroredStrategy`:

1. Before training, the trainer's symbolic build reduces a distributed
   *dict* input batch with `strategy.reduce`, which only takes tensors
   ("Attempt to convert a value ({'in0': PerReplica...}) to a Tensor").
2. Each step reduces the scalar logs (loss, metrics) with
   `strategy.reduce("MEAN", v, axis=0)`: "Invalid reduction dimension 0 for
   input with 0 dimensions".

`multi_worker_fit_fixes` builds the model's state from one plain sample batch
inside the strategy scope and skips the symbolic build (fix 1), and reduces
scalar per-replica values with `axis=None` (fix 2). Both touch Keras
internals, so they live only here, apply only inside the context manager and
only under a multi-worker strategy; `tests/training/test_multi_worker.py`
fails when a Keras upgrade changes what they rely on. TensorFlow's own
collective all-reduce still does all the distributing.

On JAX, the context instead enters the `keras.distribution` scope of a
`KerasDistribution` (see `keras_o2v.training.distribution`): Keras splits
the batches of `fit` and `evaluate` between the devices only inside it.
"""

import contextlib

import tensorflow as tf

from keras_o2v.training.distribution import KerasDistribution


def _patched_reduce(original):
    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def reduce(value):
            # With one device per worker, values are plain tensors.
            local = (strategy.experimental_local_results(value)[0]
                     if isinstance(value, tf.distribute.DistributedValues)
                     else value)
            if getattr(local, "shape", None) is not None and (
                    local.shape.rank == 0):
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tf.nest.map_structure(reduce, values)

    return reduce_per_replica


@contextlib.contextmanager
def multi_worker_fit_fixes(model, strategy, sample_batch):
    """Context in which `model.fit` works under MultiWorkerMirroredStrategy.

    Args:
        model: compiled Keras model, created in `strategy.scope()`.
        strategy: the `tf.distribute` strategy or `KerasDistribution`;
            other strategies pass through untouched.
        sample_batch: callable returning `(x, y)` of plain arrays, one batch
            of the data; only called under a multi-worker strategy.
    """
    if isinstance(strategy, KerasDistribution):
        with strategy.scope():
            yield
        return
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    # Imported here: only this TensorFlow-only path needs Keras' TF trainer.
    from keras.src.backend.tensorflow import trainer as tf_trainer

    with strategy.scope():
        model._symbolic_build(data_batch=sample_batch())
    original = tf_trainer.reduce_per_replica
    model._maybe_symbolic_build = lambda *args, **kwargs: None
    tf_trainer.reduce_per_replica = _patched_reduce(original)
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original
        del model._maybe_symbolic_build
