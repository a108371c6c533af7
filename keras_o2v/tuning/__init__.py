"""Hyperparameter tuning of Object2Vec with KerasTuner.

Needs the optional dependencies: `pip install "keras-o2v[tuning]"`
(keras-tuner, tensorboard, and scikit-learn for the Bayesian tuner).
"""

try:
    import keras_tuner  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError(
        "keras_o2v.tuning needs keras-tuner: pip install "
        "\"keras-o2v[tuning]\"") from e

from keras_o2v.tuning.hypermodel import Object2VecHyperModel  # noqa: E402
from keras_o2v.tuning.search import OBJECTIVES  # noqa: E402
from keras_o2v.tuning.search import TUNERS  # noqa: E402
from keras_o2v.tuning.search import SearchResult  # noqa: E402
from keras_o2v.tuning.search import run_search  # noqa: E402
from keras_o2v.tuning.space import CORE  # noqa: E402
from keras_o2v.tuning.space import TUNING_RANGES  # noqa: E402

__all__ = ["Object2VecHyperModel", "OBJECTIVES", "TUNERS", "SearchResult",
           "run_search", "CORE", "TUNING_RANGES"]
