"""Every ```python block in keras_o2v's docstrings runs.

The blocks come from the public modules of the package (no `_private`
module or name): module docstrings and the docstrings of the classes,
functions and methods each module defines. Only ```python fences run;
```bash, ```json and ```text blocks are shown, never run, so a block that
cannot run on its own (it needs a server or a real data set) is fenced as
```text (or rewritten to run on tiny in-memory data).

Each block runs in a fresh namespace that holds `np`, `keras` and
`keras_o2v` (the examples assume these imports, as Keras' own do; anything
else they import themselves), with a temporary directory as the working
directory. An encoder a block registers is unregistered afterwards.

`NOT_RUN` lists the blocks that do not run yet, with the reason; an entry
that names no block fails, so the list cannot go stale.
"""

import importlib
import inspect
import os
import pathlib
import pkgutil
import re
import textwrap

import keras
import numpy as np
import pytest

import keras_o2v
from keras_o2v.hyperparameters import ENCODERS
from keras_o2v.hyperparameters import unregister_encoder

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```", re.M | re.S)

# qualified name (or a module prefix ending in ".") -> why it does not run.
NOT_RUN = {}
# The loaders' examples read the real data sets from `../shared/data`, as
# the examples do: they run from the repository root where that exists.
ROOT = pathlib.Path(__file__).resolve().parents[1]
NEEDS_DATA = "keras_o2v.datasets."


def _public_modules():
    names = ["keras_o2v"]
    for info in pkgutil.walk_packages(keras_o2v.__path__, "keras_o2v."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _documented(module):
    """(qualified name, docstring) of the module and what it defines."""
    yield module.__name__, module.__doc__
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(
                obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj.__doc__
        elif inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj.__doc__
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                member = getattr(member, "__func__", member)  # class/static
                member = getattr(member, "fget", member)  # property
                if inspect.isfunction(member):
                    yield f"{module.__name__}.{name}.{attr}", member.__doc__


def _collect():
    blocks = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for qualname, doc in _documented(module):
            for i, code in enumerate(_FENCE.findall(inspect.cleandoc(
                    doc or ""))):
                blocks.append((f"{qualname}[{i}]", qualname,
                               textwrap.dedent(code)))
    return blocks


BLOCKS = _collect()


def _not_run(qualname):
    for key, reason in NOT_RUN.items():
        if qualname == key or (key.endswith(".") and qualname.startswith(
                key)):
            return reason
    return None


@pytest.mark.parametrize("qualname,code", [
    pytest.param(qualname, code, id=block_id,
                 marks=[pytest.mark.skip(reason=_not_run(qualname))]
                 if _not_run(qualname) else [])
    for block_id, qualname, code in BLOCKS])
def test_docstring_example_runs(qualname, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if qualname.startswith(NEEDS_DATA):
        if not (ROOT.parent / "shared" / "data").is_dir():
            pytest.skip("needs the real data sets in ../shared/data")
        monkeypatch.chdir(ROOT)
    registered = list(ENCODERS)
    namespace = {"__name__": "__docstring__", "np": np, "keras": keras,
                 "keras_o2v": keras_o2v}
    try:
        exec(compile(code, f"<docstring of {qualname}>", "exec"), namespace)
    finally:
        for name in set(ENCODERS) - set(registered):
            unregister_encoder(name)


def test_examples_were_found_and_exclusions_are_current():
    qualnames = [qualname for _, qualname, _ in BLOCKS]
    # The layers' and the factory's examples at least.
    assert "keras_o2v.layers.encoders.hcnn.HCNNEncoder" in qualnames
    assert "keras_o2v.models.object2vec.build_object2vec" in qualnames
    stale = [key for key in NOT_RUN
             if not any(q == key or (key.endswith(".") and q.startswith(key))
                        for q in qualnames)]
    assert not stale, f"NOT_RUN names no ```python block: {stale}"
