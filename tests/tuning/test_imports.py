"""Imports point one way: ... -> training -> tuning -> cli."""

import pytest

from tests.test_imports import PACKAGE
from tests.test_imports import group
from tests.test_imports import imported_groups

# tuning sits on training; only the cli sits on tuning.
TUNING_MAY_NOT_IMPORT = {"cli", "inference", "serving", "batch_predict",
                         "export", "instances"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_imports_tuning(path):
    groups = set(imported_groups(path))
    if group(path) == "tuning":
        assert not groups & TUNING_MAY_NOT_IMPORT, path
    elif group(path) != "cli":
        assert "tuning" not in groups, f"{path.name} imports tuning"


def test_package_import_does_not_need_keras_tuner():
    source = (PACKAGE / "__init__.py").read_text()
    assert "tuning" not in source
