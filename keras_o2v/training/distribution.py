"""Choosing the `tf.distribute` strategy, replicas and chief of a run.

`distribution`:
* `"auto"`: `MultiWorkerMirroredStrategy` when `TF_CONFIG` names more than one
  task, else `MirroredStrategy` when more than one GPU is visible, else the
  default (single-device) strategy.
* `"none"`: the default strategy.
* `"mirrored"`: `MirroredStrategy` over the visible GPUs, or over the logical
  CPU devices when there is no GPU (for tests on CPU-only machines).
* `"multi_worker"`: `MultiWorkerMirroredStrategy` (needs `TF_CONFIG`).
"""

import json
import os

import tensorflow as tf

DISTRIBUTIONS = ("auto", "none", "mirrored", "multi_worker")


def cluster_tasks():
    """Number of tasks (chief + workers) that `TF_CONFIG` names."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    cluster = config.get("cluster", {})
    return sum(len(cluster.get(k, [])) for k in ("chief", "worker"))


def select_strategy(distribution="auto"):
    """Returns the `tf.distribute.Strategy` that `distribution` names."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"`distribution` must be one of {list(DISTRIBUTIONS)}."
                         f" Received: distribution={distribution!r}")
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
    if is_multi_worker(strategy):
        name = "MultiWorkerMirroredStrategy"  # its class name is older
    elif isinstance(strategy, tf.distribute.MirroredStrategy):
        name = "MirroredStrategy"
    else:
        name = "default strategy (one device)"
    return f"{name} with {strategy.num_replicas_in_sync} replica(s)"
