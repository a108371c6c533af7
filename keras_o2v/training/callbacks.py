"""Callbacks that print SageMaker's metric log lines."""

import logging
import socket
import time

import keras

from keras_o2v.models.object2vec import SAGEMAKER_METRICS

logger = logging.getLogger("keras_o2v")

# SageMaker tags scores with <score> and losses with <loss>.
_KIND = {
    "accuracy": "score",
    "cross_entropy": "loss",
    "mean_squared_error": "loss",
    "root_mean_squared_error": "loss",
    "mean_absolute_error": "loss",
    # The retrieval objective: in-batch softmax loss, in-batch hits@10.
    "loss": "loss",
    "batch_hits_at_10": "score",
}
# What an Object2Vec run logs (Keras' own "loss" duplicates one of these).
OBJECT2VEC_METRICS = tuple(name for names in SAGEMAKER_METRICS.values()
                           for name in names)


def quality_line(split, metric, value, epoch=None):
    """`#quality_metric: host=..., epoch=N, validation accuracy <score>=X`."""
    host = socket.gethostname()
    at = f", epoch={epoch}" if epoch is not None else ""
    return (f"#quality_metric: host={host}{at}, {split} {metric} "
            f"<{_KIND[metric]}>={value}")


class SageMakerMetricsLogger(keras.callbacks.Callback):
    """Logs one `#quality_metric` line per metric and split each epoch.

    Epochs are numbered from 0, as in SageMaker's logs. Also logs
    `#throughput_metric: host=..., train throughput=X records/second` when
    `count_records` (a callable returning the records of the last epoch) is
    given. `names`: the metrics logged (default: Object2Vec's).
    """

    def __init__(self, count_records=None, names=OBJECT2VEC_METRICS):
        super().__init__()
        self.count_records = count_records
        self.names = names
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key, value in logs.items():
            split, name = ("validation", key[4:]) if key.startswith(
                "val_") else ("train", key)
            if name in self.names:
                logger.info(quality_line(split, name, float(value), epoch))
        if self.count_records is not None:
            seconds = time.perf_counter() - self._start
            rate = self.count_records() / max(seconds, 1e-9)
            logger.info("#throughput_metric: host=%s, train throughput=%.1f "
                        "records/second", socket.gethostname(), rate)
