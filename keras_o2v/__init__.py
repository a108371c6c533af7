"""keras_o2v: Object2Vec embeddings of any discrete objects, in Keras 3."""

import os

# The package is written for TensorFlow's tf.data and SavedModel.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_o2v import layers  # noqa: E402
from keras_o2v.export import export_saved_model  # noqa: E402
from keras_o2v.hyperparameters import resolve_hyperparameters  # noqa: E402
from keras_o2v.inference import embed  # noqa: E402
from keras_o2v.inference import predict  # noqa: E402
from keras_o2v.models import Object2Vec  # noqa: E402
from keras_o2v.models import build_object2vec  # noqa: E402
# Registers RetrievalModel, so `.keras` files of it load everywhere.
from keras_o2v import retrieval  # noqa: E402
from keras_o2v.version import __version__  # noqa: E402

__all__ = ["layers", "retrieval", "resolve_hyperparameters", "Object2Vec",
           "build_object2vec", "embed", "predict", "export_saved_model",
           "__version__"]
