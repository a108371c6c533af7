"""keras_o2v imports without keras-tuner.

The import direction of `keras_o2v.tuning` (it sits on training; only the
cli imports it) is checked with every other group in tests/test_imports.py.
"""

from tests.test_imports import PACKAGE


def test_package_import_does_not_need_keras_tuner():
    source = (PACKAGE / "__init__.py").read_text()
    assert "tuning" not in source
