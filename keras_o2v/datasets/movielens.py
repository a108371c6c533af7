"""MovieLens-100k (GroupLens ML-100k), read from its original files.

The loaders read the files as GroupLens distributes them, in `ml-100k/`
under `data_dir`: ratings (`u.data`, and the official splits `u1`..`u5`
(5-fold) and `ua`, `ub` (10 ratings per user held out) as `.base` and
`.test`), users (`u.user`) and movies (`u.item`, latin-1). Nothing is
downloaded: GroupLens allows research use without redistribution, so fetch
the archive from https://grouplens.org/datasets/movielens/100k/ yourself.

Ids are GroupLens's: users `1..NUM_USERS`, movies `1..NUM_ITEMS`, so id 0 is
free for padding, as Object2Vec's encoders expect.
"""

import os

import numpy as np

from keras_o2v.datasets.paths import require
from keras_o2v.datasets.paths import resolve

FOLDER = "ml-100k"
NUM_USERS = 943
NUM_ITEMS = 1682
SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
# u.genre, in the order of u.item's 19 genre flags.
GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's",
          "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir",
          "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western")
_WHAT = ("ml-100k/ (GroupLens MovieLens-100k: u.data, u.item, u.user, "
         "u1..u5, ua, ub .base/.test)")


def read_ratings(path):
    """Ratings of one tab-separated ML-100k file (`u.data`, `ua.base`, ...).

    Args:
        path: str. A file of `user item rating timestamp` lines.

    Returns:
        int64 array `(n, 3)`: user id, movie id, rating (1-5), in file
        order; the timestamp is dropped.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: naming the file, if a line is not at least three
            integers.

    Example:

    ```python
    from keras_o2v.datasets import movielens

    ratings = movielens.read_ratings("../shared/data/ml-100k/u.data")
    ratings.shape  # (100000, 3)
    ```
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No ratings file at {path!r}: `path` must "
                                "be an ML-100k ratings file such as u.data "
                                f"or ua.base. Received: path={path!r}")
    try:
        return np.loadtxt(path, dtype=np.int64, usecols=(0, 1, 2), ndmin=2)
    except ValueError as e:
        raise ValueError(f"{path}: ML-100k ratings must be tab-separated "
                         "`user item rating timestamp` lines of integers. "
                         f"{e}") from e


def load_ratings(data_dir=None, split="ua"):
    """The train (`.base`) and test (`.test`) ratings of an official split.

    Args:
        data_dir: optional str, the folder holding `ml-100k/`. Defaults to
            `keras_o2v.datasets.default_data_dir()`.
        split: str, one of `SPLITS`: `"u1"`..`"u5"` (5-fold, 80k / 20k
            ratings) or `"ua"`, `"ub"` (10 ratings per user in the test
            file: 90570 / 9430). Defaults to `"ua"`.

    Returns:
        `(base, test)`, two int64 arrays `(n, 3)` of user id, movie id and
        rating, in file order.

    Raises:
        ValueError: for an unknown `split`.
        FileNotFoundError: if the split's files are not under `data_dir`.

    Example:

    ```python
    from keras_o2v.datasets import movielens

    base, test = movielens.load_ratings("../shared/data", split="ua")
    base.shape, test.shape  # (90570, 3), (9430, 3)
    ```
    """
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: "
                         f"split={split!r}")
    base, test = require(resolve(data_dir), [
        f"{FOLDER}/{split}.base", f"{FOLDER}/{split}.test"], _WHAT)
    return read_ratings(base), read_ratings(test)


def _rows(path, min_fields):
    """The `|`-separated fields of each non-empty line (latin-1)."""
    with open(path, encoding="latin-1") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("|")
            if len(fields) < min_fields or not fields[0].isdigit():
                raise ValueError(
                    f"{path}, line {lineno}: expected at least {min_fields} "
                    "`|`-separated fields starting with an integer id. "
                    f"Received: {line.rstrip()!r}")
            yield lineno, fields


def load_movies(data_dir=None):
    """The movies of `ml-100k/u.item`.

    Args:
        data_dir: optional str, the folder holding `ml-100k/`. Defaults to
            `keras_o2v.datasets.default_data_dir()`.

    Returns:
        dict movie id -> `{"title", "release_date", "url", "genres"}`:
        strings as in the file (empty when unknown) and the list of the
        movie's genre names (`GENRES`, in that order; may be empty).

    Raises:
        FileNotFoundError: if `u.item` is not under `data_dir`.
        ValueError: naming the file and line of a line without an id and
            the 19 genre flags.

    Example:

    ```python
    from keras_o2v.datasets import movielens

    movies = movielens.load_movies("../shared/data")
    movies[50]["title"], movies[50]["genres"]
    # ("Star Wars (1977)", ["Action", "Adventure", "Romance", "Sci-Fi", "War"])
    ```
    """
    path, = require(resolve(data_dir), [f"{FOLDER}/u.item"], _WHAT)
    movies = {}
    for lineno, fields in _rows(path, 5 + len(GENRES)):
        flags = fields[5:5 + len(GENRES)]
        if any(flag not in ("0", "1") for flag in flags):
            raise ValueError(f"{path}, line {lineno}: the 19 genre flags "
                             f"must be 0 or 1. Received: {flags}")
        movies[int(fields[0])] = {
            "title": fields[1], "release_date": fields[2], "url": fields[4],
            "genres": [g for g, flag in zip(GENRES, flags) if flag == "1"]}
    return movies


def load_users(data_dir=None):
    """The users of `ml-100k/u.user`.

    Args:
        data_dir: optional str, the folder holding `ml-100k/`. Defaults to
            `keras_o2v.datasets.default_data_dir()`.

    Returns:
        dict user id -> `{"age": int, "gender": "M" or "F", "occupation":
        str, "zip_code": str}`.

    Raises:
        FileNotFoundError: if `u.user` is not under `data_dir`.
        ValueError: naming the file and line of a malformed line.

    Example:

    ```python
    from keras_o2v.datasets import movielens

    users = movielens.load_users("../shared/data")
    users[1]  # {"age": 24, "gender": "M", "occupation": "technician", ...}
    ```
    """
    path, = require(resolve(data_dir), [f"{FOLDER}/u.user"], _WHAT)
    users = {}
    for lineno, fields in _rows(path, 5):
        if not fields[1].isdigit():
            raise ValueError(f"{path}, line {lineno}: the age must be an "
                             f"integer. Received: {fields[1]!r}")
        users[int(fields[0])] = {"age": int(fields[1]), "gender": fields[2],
                                 "occupation": fields[3],
                                 "zip_code": fields[4]}
    return users
