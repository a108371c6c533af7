import logging

import numpy as np
import pytest


def test_warm_up_order_follows_the_preferred_mode(predictor, caplog):
    with caplog.at_level(logging.INFO, "keras_o2v"):
        predictor.warm_up("embedding")
    assert [r.getMessage() for r in caplog.records] == [
        "Warmed up signature embed_in0.", "Warmed up signature embed_in1.",
        "Warmed up signature serving_default."]
    with pytest.raises(ValueError, match=(
            r"^`INFERENCE_PREFERRED_MODE` must be one of \['classification', "
            r"'embedding'\]. Received: INFERENCE_PREFERRED_MODE='gpu'")):
        predictor.warm_up("gpu")


def test_prepare_truncates_and_pads(predictor):
    batch = predictor.prepare([{"in1": [5, 6, 7, 8]}, {"in1": [9]}],
                              max_seqlens=(4, 2))
    assert batch.signature == "embed_in1" and batch.output == "embeddings"
    np.testing.assert_array_equal(batch.arrays["in1"], [[5, 6], [9, 0]])
    default = predictor.prepare([{"in0": [1] * 30, "in1": [2]}])
    assert default.signature == "serving_default" and len(default) == 1
    assert default.arrays["in0"].shape == (1, 20)  # enc0_max_seq_len
    # Both server routes truncate (the SavedModel itself takes ids whole).
    cut = predictor.prepare_signature("embed_in0", [{"in0": [1] * 30}])
    assert cut.arrays["in0"].shape == (1, 20)  # enc0_max_seq_len
    assert predictor.run(cut).shape == (1, 16)
