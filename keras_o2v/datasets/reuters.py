"""Reuters-21578, ModApte split, the 90 topics with a train and a test
document (ModApte-90): 7770 train and 3019 test documents, multi-label.

Files under `data_dir` (parsed once from the 22 original SGML files):
`reuters21578/modapte90_{train,test}.jsonl`, one `{"newid", "labels",
"title", "body"}` object per line, and `reuters21578/modapte90_categories.txt`,
one topic code per line. Nothing is downloaded: the collection is free for
research use only.
"""

import html

import orjson

from keras_o2v.datasets.paths import require
from keras_o2v.datasets.paths import resolve

FOLDER = "reuters21578"
_FILES = (f"{FOLDER}/modapte90_train.jsonl", f"{FOLDER}/modapte90_test.jsonl",
          f"{FOLDER}/modapte90_categories.txt")
_WHAT = ("reuters21578/ (modapte90_train.jsonl, modapte90_test.jsonl, "
         "modapte90_categories.txt)")


def read_documents(path):
    """The documents of one JSON Lines file, in file order.

    Args:
        path: str. JSON Lines of `{"newid", "labels", "title", "body"}`.

    Returns:
        list of dicts `{"newid", "title", "body", "labels"}`; the title and
        body with SGML entities decoded (`&lt;` -> `<`), empty when absent.

    Raises:
        ValueError: naming the file and line of a line that is not a JSON
            object with a `labels` list.

    Example:

    ```python
    from keras_o2v.datasets import reuters

    docs = reuters.read_documents(
        "../shared/data/reuters21578/modapte90_test.jsonl")
    docs[0]["labels"]  # ["trade"]
    ```
    """
    docs = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise ValueError(f"{path}, line {lineno}: not JSON ({e})"
                                 ) from None
            if not isinstance(row, dict) or not isinstance(
                    row.get("labels"), list):
                raise ValueError(f"{path}, line {lineno}: each line must be "
                                 "an object with a `labels` list. Received: "
                                 f"{line[:80]!r}")
            docs.append({"newid": row.get("newid"),
                         "title": html.unescape(row.get("title", "")),
                         "body": html.unescape(row.get("body", "")),
                         "labels": row["labels"]})
    return docs


def load_data(data_dir=None):
    """The ModApte-90 train and test documents and the 90 topic codes.

    Args:
        data_dir: optional str, the folder holding `reuters21578/`.
            Defaults to `keras_o2v.datasets.default_data_dir()`.

    Returns:
        `(train, test, categories)`: two lists of documents as
        `read_documents` returns them, and the list of topic codes in the
        order of `modapte90_categories.txt`.

    Raises:
        FileNotFoundError: if one of the three files is not under
            `data_dir`.

    Example:

    ```python
    from keras_o2v.datasets import reuters

    train, test, categories = reuters.load_data("../shared/data")
    len(train), len(test), len(categories)  # 7770, 3019, 90
    ```
    """
    train, test, categories = require(resolve(data_dir), _FILES, _WHAT)
    with open(categories) as f:
        codes = [line.strip() for line in f if line.strip()]
    return read_documents(train), read_documents(test), codes
