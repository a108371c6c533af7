"""keras_o2v: Object2Vec embeddings of any discrete objects, in Keras 3.

The package runs on the Keras backend the user chose (`KERAS_BACKEND`);
importing it never changes that choice. Names load on first use, so
`import keras_o2v` alone (and so the CLI's `--help`) does not import Keras.
Where Keras is already imported, everything loads at once, so that
`keras.saving.load_model` finds this package's registered classes.
"""

import importlib
import sys

from keras_o2v.version import __version__

# name -> module that defines it
_EXPORTS = {
    "layers": "keras_o2v.layers",
    "retrieval": "keras_o2v.retrieval",
    "resolve_hyperparameters": "keras_o2v.hyperparameters",
    "Object2Vec": "keras_o2v.models",
    "build_object2vec": "keras_o2v.models",
    "embed": "keras_o2v.inference",
    "predict": "keras_o2v.inference",
    "export_saved_model": "keras_o2v.export",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'keras_o2v' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if module.__name__.endswith("." + name) else getattr(
        module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


if "keras" in sys.modules:
    # Registers every serialisable class (RetrievalModel included).
    for _name in _EXPORTS:
        __getattr__(_name)
