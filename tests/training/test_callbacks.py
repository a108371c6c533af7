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


class _Weights:
    """The model an early-stopping callback sees: weights and a stop flag."""

    def __init__(self):
        self.epoch = None
        self.stop_training = False

    def get_weights(self):
        return [self.epoch]


def _stopper(patience, tolerance, state_dir=None):
    """A started `ResumableEarlyStopping` on the validation MSE."""
    from keras_o2v.training.resume import ResumableEarlyStopping

    stopper = ResumableEarlyStopping(
        state_dir=state_dir, monitor="val_mean_squared_error",
        patience=patience, min_delta=tolerance, restore_best_weights=True)
    stopper.set_model(_Weights())
    stopper.on_train_begin()
    return stopper


def _stopping(values, patience, tolerance, state_dir=None, first_epoch=0,
              stopper=None):
    if stopper is None:
        stopper = _stopper(patience, tolerance, state_dir)
    model = stopper.model
    for epoch, value in enumerate(values, start=first_epoch):
        model.epoch = epoch
        stopper.on_epoch_end(epoch, {"val_mean_squared_error": value})
        if model.stop_training:
            break
    return stopper, epoch


# Validation MSE of SageMaker's MovieLens notebook config, seed 0, every
# epoch run (examples/movielens.py --config notebook): it rises while the
# model memorises the ratings, then falls to its minimum at epoch 10.
NOTEBOOK_MSE = [0.9353, 0.9356, 1.0132, 0.9651, 0.9440, 0.9351, 0.9487,
                0.9347, 0.9279, 0.9193, 0.9099, 0.9118, 0.9137, 0.9163]


def test_early_stopping_counts_epochs_that_fall_short_of_the_previous():
    # SageMaker's rule: the tolerance is a reduction between consecutive
    # epochs. 1.0132 -> 0.9651 resets the count, so the run goes on to the
    # notebook's figure (MSE ~0.91); epochs 8-10 each fall by less than
    # 0.01, so the third of them ends it, keeping epoch 10's weights.
    stopper, stopped = _stopping(NOTEBOOK_MSE, patience=3, tolerance=0.01)
    assert stopped == stopper.stopped_epoch == 10
    assert stopper.best_epoch == 10 and stopper.best == 0.9099
    assert stopper.best_weights == [10]
    # Keras' rule (against the best so far) stopped at epoch 3 with 0.9353.
    # With a tiny tolerance it runs until three rises in a row.
    stopper, stopped = _stopping(NOTEBOOK_MSE, patience=3, tolerance=1e-6)
    assert stopped == 13 and stopper.best_epoch == 10


def test_early_stopping_keeps_the_lowest_epoch_not_the_last_reduction():
    stopper, stopped = _stopping([1.0, 0.5, 0.9, 0.8, 0.7, 0.71, 0.72],
                                 patience=2, tolerance=0.0)
    assert stopped == 6  # 0.71 and 0.72 rise
    assert stopper.best_epoch == 1 and stopper.best_weights == [1]
    # A NaN epoch counts towards the patience and is never the best.
    stopper, stopped = _stopping([float("nan"), 0.9, 0.95, 0.97],
                                 patience=2, tolerance=0.0)
    assert stopped == 2 and stopper.best_epoch == 1
    from keras_o2v.training.resume import ResumableEarlyStopping

    with pytest.raises(ValueError, match="`mode` must be 'min'"):
        ResumableEarlyStopping(mode="max")


def test_early_stopping_state_resumes_mid_count(tmp_path):
    import json

    full, stopped = _stopping(NOTEBOOK_MSE, patience=3, tolerance=0.01)
    # A run killed after epoch 8 (its backup says: resume at epoch 9).
    _stopping(NOTEBOOK_MSE[:9], patience=3, tolerance=0.01,
              state_dir=str(tmp_path))
    with open(tmp_path / "training_metadata.json", "w") as f:
        json.dump({"epoch": 9}, f)
    again = _stopper(3, 0.01, state_dir=str(tmp_path))
    assert (again.previous, again.wait) == (0.9279, 1)
    resumed, stopped_again = _stopping(NOTEBOOK_MSE[9:], 3, 0.01,
                                       first_epoch=9, stopper=again)
    assert stopped_again == stopped == 10
    assert resumed.best_epoch == full.best_epoch == 10
    assert len(resumed.epoch_logs) == 11
