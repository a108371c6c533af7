import math

import numpy as np
import pytest

from keras_o2v.retrieval import InBatchSoftmaxLoss
from keras_o2v.retrieval import in_batch_softmax_loss
from keras_o2v.retrieval import similarity_matrix

# Candidates 0 and 2 are the same item (id 5): an accidental hit each way.
SCORES = np.array([[1.0, 0.0, 1.0],
                   [0.0, 2.0, 0.0],
                   [0.5, 0.0, 1.0]], np.float32)
IDS = np.array([5, 7, 5])


def test_accidental_hits_masked_matches_hand_derived_value():
    # Row 0: column 2 masked -> -log(e^1 / (e^1 + e^0)) = log(1 + e^-1).
    # Row 1: no duplicate -> -log(e^2 / (1 + e^2 + 1)) = log(1 + 2 e^-2).
    # Row 2: column 0 masked -> log(1 + e^-1).
    expected = [math.log(1 + math.exp(-1)), math.log(1 + 2 * math.exp(-2)),
                math.log(1 + math.exp(-1))]
    losses = np.asarray(in_batch_softmax_loss(SCORES, IDS))
    np.testing.assert_allclose(losses, expected, rtol=1e-6)
    # Unmasked, row 0 also has the duplicate as a negative.
    unmasked = np.asarray(in_batch_softmax_loss(SCORES))
    assert unmasked[0] == pytest.approx(math.log(1 + 1 + math.exp(-1)))


def test_sequence_ids_are_compared_whole():
    ids = np.array([[5, 1], [5, 2], [5, 1]])
    losses = np.asarray(in_batch_softmax_loss(SCORES, ids))
    assert losses[0] == pytest.approx(math.log(1 + math.exp(-1)))


def test_temperature_and_logq():
    # q = (1/2, 1/4, 1/2): logits = s / 0.5 - log q.
    # Row 0 (column 2 masked): [2 + ln 2, 0 + ln 4] -> log(1 + 4/(2 e^2)).
    # Row 1: [ln 2, 4 + ln 4, ln 2] -> log(1 + (2 + 2) / (4 e^4)).
    log_q = np.log([0.5, 0.25, 0.5]).astype(np.float32)
    losses = np.asarray(in_batch_softmax_loss(SCORES, IDS, log_q,
                                              temperature=0.5))
    assert losses[0] == pytest.approx(math.log(1 + 2 * math.exp(-2)),
                                      rel=1e-6)
    assert losses[1] == pytest.approx(math.log(1 + math.exp(-4)), rel=1e-5)


def test_loss_object_and_config():
    loss = InBatchSoftmaxLoss(temperature=1.0)
    expected = np.mean(np.asarray(in_batch_softmax_loss(SCORES, IDS)))
    assert float(loss(IDS, SCORES)) == pytest.approx(expected, rel=1e-6)
    clone = InBatchSoftmaxLoss.from_config(loss.get_config())
    assert clone.temperature == 1.0 and clone.remove_accidental_hits
    with pytest.raises(ValueError, match="`temperature` must be a positive"):
        InBatchSoftmaxLoss(temperature=0)


def test_cosine_similarity_ignores_norms():
    q = np.array([[3.0, 0.0], [1.0, 1.0]], np.float32)
    c = np.array([[2.0, 0.0], [0.0, 5.0]], np.float32)
    np.testing.assert_allclose(np.asarray(similarity_matrix(q, c)),
                               [[1, 0], [2 ** -0.5, 2 ** -0.5]], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(similarity_matrix(q, c, "dot")),
                               [[6, 0], [2, 5]])
    with pytest.raises(ValueError, match="`similarity` must be one of"):
        similarity_matrix(q, c, "l2")
