"""Where the local data sets are, and the check that they are there."""

import os

# Set it to read the data sets from elsewhere (the tests use it too).
DATA_DIR_ENV = "KERAS_O2V_DATA"
# Beside the repository, as the project's machines lay it out.
SHARED_DATA = os.path.join("..", "shared", "data")
GLOVE_FILE = os.path.join("glove", "glove.6B.50d.top100k.txt")


def default_data_dir():
    """The folder the loaders read when no `data_dir` is given.

    In order: `$KERAS_O2V_DATA` if set; `../shared/data` seen from the
    working directory if it exists; `shared/data` beside a source checkout
    of keras_o2v (`../shared/data` seen from the repository root) if it
    exists; else `../shared/data`, so that a loader's error names it.
    Nothing is ever downloaded: several of these data sets may not be
    redistributed.

    Returns:
        str, a folder path.

    Example:

    ```python
    from keras_o2v import datasets

    base, test = datasets.movielens.load_ratings(datasets.default_data_dir())
    ```
    """
    if os.environ.get(DATA_DIR_ENV):
        return os.environ[DATA_DIR_ENV]
    if os.path.isdir(SHARED_DATA):
        return SHARED_DATA
    package = os.path.dirname(os.path.abspath(__file__))
    beside_checkout = os.path.normpath(os.path.join(
        package, "..", "..", SHARED_DATA))
    if os.path.isdir(beside_checkout):
        return beside_checkout
    return SHARED_DATA


def resolve(data_dir):
    """`data_dir`, or `default_data_dir()` when it is None."""
    return default_data_dir() if data_dir is None else os.fspath(data_dir)


def require(data_dir, names, what):
    """Paths of `names` (relative to `data_dir`); raises if any is missing.

    Args:
        data_dir: str. The folder given to the loader.
        names: relative file paths, such as `"ml-100k/ua.base"`.
        what: str. The data set, as the error message should describe it.

    Returns:
        list of str, the joined paths, in the order of `names`.

    Raises:
        FileNotFoundError: naming the missing files and what `data_dir`
            must hold.
    """
    paths = [os.path.join(data_dir, name) for name in names]
    missing = [name for name, path in zip(names, paths)
               if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(
            f"`data_dir` must be a folder holding {what}; missing: "
            f"{', '.join(missing)}. Nothing is downloaded: get the files "
            f"from the data set's publisher. Received: data_dir={data_dir!r}")
    return paths


def glove_file(data_dir=None):
    """The GloVe 6B 50d vectors (the 100k most frequent words) under
    `data_dir`: `glove/glove.6B.50d.top100k.txt`.

    GloVe text format, one `word v1 ... v50` line per word, lower-cased; the
    first 100,000 lines of Stanford's `glove.6B.50d.txt`.

    Args:
        data_dir: optional str. Defaults to `default_data_dir()`.

    Returns:
        str, the file path.

    Raises:
        FileNotFoundError: if the file is not there.

    Example:

    ```python
    from keras_o2v.datasets import glove_file

    with open(glove_file()) as f:
        word, *vector = f.readline().split()  # "the", 50 numbers
    ```
    """
    data_dir = resolve(data_dir)
    return require(data_dir, [GLOVE_FILE],
                   "the GloVe 6B 50d vectors (glove/, the first 100,000 "
                   "lines of glove.6B.50d.txt)")[0]
