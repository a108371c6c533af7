"""Imports point one way: leaves -> layers -> models -> training ->
tuning -> cli."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_o2v"

# Inference side: instances (data) -> export (models) -> serving ->
# batch_predict; inference (the Python API) beside them; cli on top.
_SERVING = {"instances", "export", "serving", "batch_predict"}

# module group -> groups it must never import. Only the cli imports tuning,
# so keras-tuner stays an optional dependency.
FORBIDDEN = {
    "__init__": {"cli", "tuning"},
    "api_export": {"cli", "tuning"},
    "version": {"cli", "tuning"},
    "atomic": {"hyperparameters", "layers", "models", "data", "training",
               "inference", "cli", "tuning"} | _SERVING,
    "hyperparameters": {"layers", "models", "data", "training", "inference",
                        "cli", "tuning"} | _SERVING,
    "layers": {"models", "data", "training", "inference", "cli",
               "tuning"} | _SERVING,
    "optimizers": {"hyperparameters", "layers", "models", "data", "training",
                   "inference", "cli", "tuning"} | _SERVING,
    "models": {"data", "training", "inference", "cli", "tuning"} | _SERVING,
    "data": {"layers", "models", "training", "inference", "cli",
             "tuning", "datasets"} | _SERVING,
    # Loaders of the examples' data sets sit on data (and its leaves).
    "datasets": {"hyperparameters", "layers", "models", "training",
                 "inference", "retrieval", "visualization", "cli",
                 "tuning"} | _SERVING,
    "inference": {"training", "cli", "tuning", "serving", "batch_predict"},
    "training": {"inference", "cli", "tuning"} | _SERVING,
    # Tuning sits on training (and models, layers, data).
    "tuning": {"inference", "cli"} | _SERVING,
    "instances": {"layers", "models", "training", "inference", "cli",
                  "tuning", "export", "serving", "batch_predict"},
    "export": {"data", "training", "inference", "cli", "tuning",
               "instances", "serving", "batch_predict"},
    "serving": {"training", "inference", "cli", "tuning", "batch_predict"},
    "batch_predict": {"training", "inference", "cli", "tuning"},
    # Retrieval sits on models and inference; nothing below imports it.
    "retrieval": {"training", "cli", "tuning", "serving", "batch_predict"},
    # Plots from vectors; `visualize_files` embeds through inference.
    "visualization": {"layers", "models", "training", "retrieval", "cli",
                      "tuning", "export", "serving", "batch_predict"},
    "backend_logs": {"hyperparameters", "layers", "models", "data",
                     "training", "inference", "cli", "tuning",
                     "visualization", "retrieval"} | _SERVING,
}


def group(path):
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_groups(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "keras_o2v" and len(parts) > 1:
                yield parts[1]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_imports(path):
    forbidden = FORBIDDEN.get(group(path), set())
    bad = sorted(set(imported_groups(path)) & forbidden)
    assert not bad, f"{path.name} imports {bad}"


def test_only_the_cli_may_import_tuning():
    groups = {group(path) for path in PACKAGE.rglob("*.py")}
    unguarded = sorted(g for g in groups - {"cli", "tuning"}
                       if "tuning" not in FORBIDDEN.get(g, set()))
    assert not unguarded, f"add `tuning` to FORBIDDEN of {unguarded}"


def test_hyperparameters_module_is_pure_python():
    source = (PACKAGE / "hyperparameters.py").read_text()
    assert "import keras" not in source and "tensorflow" not in source
