"""Choosing the distribution strategy, replicas and chief of a run.

On the TensorFlow backend, `distribution` picks a `tf.distribute` strategy:
* `"auto"`: `MultiWorkerMirroredStrategy` when `TF_CONFIG` names more than one
  task, else `MirroredStrategy` when more than one GPU is visible, else the
  default (single-device) strategy.
* `"none"`: the default strategy.
* `"mirrored"`: `MirroredStrategy` over the visible GPUs, or over the logical
  CPU devices when there is no GPU (for tests on CPU-only machines).
* `"multi_worker"`: `MultiWorkerMirroredStrategy` (needs `TF_CONFIG`).

On JAX, `"mirrored"` (and `"auto"` with more than one device) is
`keras.distribution.DataParallel` over every local device: weights
replicated, each batch split between the devices. `"multi_worker"` is
TensorFlow only, and so is any data parallelism on PyTorch: those raise a
`ValueError` saying so. The JAX distribution is wrapped in
`KerasDistribution`, which has the two members of a strategy that training
uses (`scope()`, `num_replicas_in_sync`).
"""

import contextlib
import json
import os

import keras
import tensorflow as tf

DISTRIBUTIONS = ("auto", "none", "mirrored", "multi_worker")


def cluster_tasks():
    """Number of tasks (chief + workers) that `TF_CONFIG` names."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    cluster = config.get("cluster", {})
    return sum(len(cluster.get(k, [])) for k in ("chief", "worker"))


class KerasDistribution:
    """A `keras.distribution.Distribution` (or none) shaped as a strategy.

    Args:
        distribution: a `keras.distribution.Distribution`, or None for one
            device.
    """

    def __init__(self, distribution=None):
        self.distribution = distribution

    @property
    def num_replicas_in_sync(self):
        if self.distribution is None:
            return 1
        return int(self.distribution.device_mesh.devices.size)

    def scope(self):
        """Variables made, and `fit` run, inside it use the distribution."""
        if self.distribution is None:
            return contextlib.nullcontext()
        return self.distribution.scope()


def _unsupported(distribution, needs, instead):
    backend = keras.backend.backend()
    return ValueError(
        f"`distribution={distribution!r}` needs {needs}; on the {backend} "
        f"backend use {instead}. Received: distribution={distribution!r} "
        f"with KERAS_BACKEND={backend!r}")


def _select_keras_distribution(distribution):
    """`select_strategy` on the JAX and PyTorch backends."""
    backend = keras.backend.backend()
    if distribution == "auto":
        if cluster_tasks() > 1:
            # Training each worker on its own would silently be wrong.
            distribution = "multi_worker"
        elif backend == "jax" and len(keras.distribution.list_devices()) > 1:
            distribution = "mirrored"
        else:
            distribution = "none"
    if distribution == "none":
        return KerasDistribution()
    one_machine = ("distribution='mirrored' (keras.distribution."
                   "DataParallel over this machine's devices)"
                   if backend == "jax" else "distribution='none' (one device)")
    if distribution == "multi_worker":
        raise _unsupported(
            distribution, "KERAS_BACKEND=tensorflow (tf.distribute."
            "MultiWorkerMirroredStrategy, configured by TF_CONFIG)",
            one_machine)
    if backend != "jax":
        raise _unsupported(
            distribution, "KERAS_BACKEND=tensorflow (tf.distribute."
            "MirroredStrategy) or jax (keras.distribution.DataParallel)",
            one_machine)
    return KerasDistribution(keras.distribution.DataParallel(
        devices=keras.distribution.list_devices()))


def select_strategy(distribution="auto"):
    """The strategy that `distribution` names, for the active backend.

    Returns:
        A `tf.distribute.Strategy` on TensorFlow, else a
        `KerasDistribution`.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"`distribution` must be one of {list(DISTRIBUTIONS)}."
                         f" Received: distribution={distribution!r}")
    if keras.backend.backend() != "tensorflow":
        return _select_keras_distribution(distribution)
    if distribution == "auto":
        if cluster_tasks() > 1:
            distribution = "multi_worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            distribution = "mirrored"
        else:
            distribution = "none"
    if distribution == "multi_worker":
        if cluster_tasks() < 1:
            raise ValueError(
                "`distribution='multi_worker'` needs a TF_CONFIG environment "
                "variable naming the cluster. Received: TF_CONFIG="
                f"{os.environ.get('TF_CONFIG')!r}")
        # Before anything lists logical devices: that would start the
        # runtime, and collective ops must be configured before it starts.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if distribution == "none":
        return tf.distribute.get_strategy()
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def task_info(strategy):
    """(task_type, task_id, is_chief) of this process.

    The chief is the first task of `worker_shard`'s order: the `chief` task,
    or worker 0 in a cluster without one.
    """
    if not is_multi_worker(strategy):
        return None, 0, True
    resolver = strategy.cluster_resolver
    return (resolver.task_type, resolver.task_id,
            worker_shard(strategy)[1] == 0)


def worker_shard(strategy):
    """(number of workers, this worker's index), chief first."""
    if not is_multi_worker(strategy):
        return 1, 0
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    tasks = [("chief", i) for i in range(len(spec.get("chief", [])))] + [
        ("worker", i) for i in range(len(spec.get("worker", [])))]
    return len(tasks), tasks.index((resolver.task_type, resolver.task_id))


def mixed_precision_policy():
    """`"mixed_bfloat16"` where the hardware has bfloat16 units (GPUs of
    compute capability >= 8.0, or CPU-only machines), else
    `"mixed_float16"`."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "mixed_bfloat16"
    details = tf.config.experimental.get_device_details(gpus[0])
    major = (details.get("compute_capability") or (0, 0))[0]
    return "mixed_bfloat16" if major >= 8 else "mixed_float16"


def describe(strategy):
    if isinstance(strategy, KerasDistribution):
        if strategy.distribution is None:
            return f"one device ({keras.backend.backend()} backend)"
        name = type(strategy.distribution).__name__
        return (f"keras.distribution.{name} with "
                f"{strategy.num_replicas_in_sync} replica(s)")
    if is_multi_worker(strategy):
        name = "MultiWorkerMirroredStrategy"  # its class name is older
    elif isinstance(strategy, tf.distribute.MirroredStrategy):
        name = "MirroredStrategy"
    else:
        name = "default strategy (one device)"
    return f"{name} with {strategy.num_replicas_in_sync} replica(s)"
