"""One registration decorator, so the serialisation package name is set once."""

import keras

PACKAGE = "keras_o2v"


def register(cls):
    """Registers `cls` as `keras_o2v>ClassName` for `.keras` loading."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)
