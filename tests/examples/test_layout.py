"""The examples read alone: none imports another, each is indexed."""

import ast
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_no_example_imports_another(path):
    siblings = {p.stem for p in SCRIPTS} - {path.stem}
    bad = sorted(set(imported_modules(path)) & siblings)
    assert not bad, (f"{path.name} imports {bad}: move shared code to "
                     "keras_o2v (e.g. keras_o2v.datasets)")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_example_is_indexed_and_documented(path):
    readme = (EXAMPLES / "README.md").read_text()
    assert f"examples/{path.name}" in readme
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    # The docstring says how to run it.
    assert docstring and f"python examples/{path.name}" in docstring
