"""SageMaker's `#quality_metric` lines for every metric the models log."""

import re

import pytest

from keras_o2v.models.object2vec import SAGEMAKER_METRICS
from keras_o2v.training.callbacks import OBJECT2VEC_METRICS
from keras_o2v.training.callbacks import quality_line
from keras_o2v.training.retrieval import RETRIEVAL_METRICS

_LINE = re.compile(r"#quality_metric: host=[^,]+(, epoch=\d+)?, "
                   r"(train|validation|test) (\w+) <(score|loss)>=[-+.e\d]+$")


@pytest.mark.parametrize("output_layer,kinds", [
    ("softmax", {"accuracy": "score", "cross_entropy": "loss"}),
    ("mean_squared_error", {"mean_squared_error": "loss",
                            "root_mean_squared_error": "loss",
                            "mean_absolute_error": "loss"})])
def test_every_sagemaker_metric_has_its_tag(output_layer, kinds):
    assert list(SAGEMAKER_METRICS[output_layer]) == list(kinds)
    for name, kind in kinds.items():
        line = quality_line("validation", name, 0.25, epoch=3)
        match = _LINE.match(line)
        assert match and match.groups() == (", epoch=3", "validation", name,
                                            kind), line
    assert set(kinds) <= set(OBJECT2VEC_METRICS)


def test_retrieval_metrics_have_their_tags():
    assert quality_line("test", "batch_hits_at_10", 0.5).endswith(
        "test batch_hits_at_10 <score>=0.5")
    for name in RETRIEVAL_METRICS:
        assert _LINE.match(quality_line("train", name, 1.0))
