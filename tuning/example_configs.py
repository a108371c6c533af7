"""Loads a script of `examples/` as a module, for its configurations."""

import importlib.util
import os

EXAMPLES = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


def load_example(name):
    """`examples/{name}.py` as a module (examples/ is not a package), so
    that a tuning script reuses the example's configuration and data
    preparation instead of a copy."""
    path = os.path.join(EXAMPLES, f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{name}_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
