"""Sentence-pair data sets: STS Benchmark, SICK, SNLI and MultiNLI.

Each function checks that a data set's files are under `data_dir` and
returns a `TextPairs`: the path of each split and the columns that hold the
two sentences and the gold label, which is what `keras_o2v.data.prepare`
(and `keras-o2v prepare`) take. `read_text_pairs` reads a split's sentences
and labels; `entailment_pairs` gathers the NLI entailment pairs. Nothing is
downloaded: the licences differ (SICK is non-commercial), so get the files
from their publishers.

Expected layout under `data_dir` (the original files):

* `stsb/sts-{train,dev,test}.csv`: tab-separated, no header, bare quotes;
  the score (0-5) in field 4, the sentences in fields 5 and 6.
* `sick/semeval2014_splits/SICK_{train,trial,test_annotated}.txt`:
  tab-separated with a header (`sentence_A`, `sentence_B`,
  `relatedness_score`, `entailment_judgment`, ...).
* `snli/snli_1.0_{dev,test}_gold.jsonl`: JSON Lines `{"sentence1",
  "sentence2", "gold_label"}`.
* `multinli/multinli_1.0_dev_matched_gold.jsonl`: JSON Lines `{"premise",
  "hypothesis", "label"}`.
"""

import dataclasses

from keras_o2v.datasets.paths import require
from keras_o2v.datasets.paths import resolve

# Class ids of the NLI labels (SNLI and MultiNLI use the same names).
NLI_LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2}
SICK_ENTAILMENT_LABELS = {"NEUTRAL": 0, "ENTAILMENT": 1, "CONTRADICTION": 2}
SICK_LABELS = ("relatedness_score", "entailment_judgment")


@dataclasses.dataclass(frozen=True)
class TextPairs:
    """The files of one sentence-pair data set and how to read them.

    Attributes:
        name: str, the data set (`"stsb"`, `"sick"`, `"snli"`,
            `"multinli"`).
        paths: dict split name -> file path, with the data set's own split
            names (STS-B `train`/`dev`/`test`, SICK `train`/`trial`/`test`,
            SNLI `dev`/`test`, MultiNLI `dev_matched`).
        text0, text1: the columns of the two sentences: header names, or
            0-based positions in a file without a header.
        label: the column of the gold label.
        delimiter: str or None. Field separator of a CSV/TSV file.
        label_map: dict label -> class id, or None for numeric labels.
    """

    name: str
    paths: dict
    text0: object
    text1: object
    label: object
    delimiter: object = None
    label_map: object = None


def _text_pairs(data_dir, name, files, what, **columns):
    data_dir = resolve(data_dir)
    paths = require(data_dir, list(files.values()), what)
    return TextPairs(name=name, paths=dict(zip(files, paths)), **columns)


def stsb(data_dir=None):
    """The STS Benchmark: 5749 / 1500 / 1379 scored sentence pairs.

    Args:
        data_dir: optional str, the folder holding `stsb/`. Defaults to
            `keras_o2v.datasets.default_data_dir()`.

    Returns:
        `TextPairs` with splits `train`, `dev` and `test`; the label is the
        similarity score, 0 to 5.

    Raises:
        FileNotFoundError: if `stsb/sts-{train,dev,test}.csv` are not all
            under `data_dir`.

    Example:

    ```python
    from keras_o2v.data.prepare import prepare
    from keras_o2v.datasets import text_pairs

    sts = text_pairs.stsb("../shared/data")
    prepare(sts.paths["train"], "runs/stsb/data", sts.text0, sts.text1,
            sts.label, validation=sts.paths["dev"], test=sts.paths["test"],
            delimiter=sts.delimiter)
    ```
    """
    files = {split: f"stsb/sts-{split}.csv"
             for split in ("train", "dev", "test")}
    return _text_pairs(data_dir, "stsb", files,
                       "stsb/ (the STS Benchmark sts-*.csv files)",
                       text0=5, text1=6, label=4, delimiter="\t")


def sick(data_dir=None, label="relatedness_score"):
    """SICK, SemEval-2014 splits: 4500 / 500 / 4927 sentence pairs.

    Args:
        data_dir: optional str, the folder holding `sick/`. Defaults to
            `keras_o2v.datasets.default_data_dir()`.
        label: str, `"relatedness_score"` (1 to 5, SICK-R) or
            `"entailment_judgment"` (SICK-E: NEUTRAL, ENTAILMENT,
            CONTRADICTION, mapped to class ids by `SICK_ENTAILMENT_LABELS`).
            Defaults to `"relatedness_score"`.

    Returns:
        `TextPairs` with splits `train`, `trial` and `test`.

    Raises:
        ValueError: for another `label`.
        FileNotFoundError: if the three SemEval-2014 files are not all
            under `data_dir`.

    Example:

    ```python
    from keras_o2v.datasets import text_pairs

    sick_e = text_pairs.sick("../shared/data", label="entailment_judgment")
    first, second, classes = text_pairs.read_text_pairs(sick_e, "trial")
    ```
    """
    if label not in SICK_LABELS:
        raise ValueError(f"`label` must be one of {SICK_LABELS}. Received: "
                         f"label={label!r}")
    files = {"train": "sick/semeval2014_splits/SICK_train.txt",
             "trial": "sick/semeval2014_splits/SICK_trial.txt",
             "test": "sick/semeval2014_splits/SICK_test_annotated.txt"}
    label_map = (SICK_ENTAILMENT_LABELS if label == "entailment_judgment"
                 else None)
    return _text_pairs(data_dir, "sick", files,
                       "sick/semeval2014_splits/ (SICK_train.txt, "
                       "SICK_trial.txt, SICK_test_annotated.txt)",
                       text0="sentence_A", text1="sentence_B", label=label,
                       label_map=label_map)


def snli(data_dir=None):
    """SNLI 1.0 dev and test, gold-labelled pairs (9842 / 9824).

    The 550k-pair training split is not part of this layout.

    Args:
        data_dir: optional str, the folder holding `snli/`. Defaults to
            `keras_o2v.datasets.default_data_dir()`.

    Returns:
        `TextPairs` with splits `dev` and `test`; labels are mapped to class
        ids by `NLI_LABELS`.

    Raises:
        FileNotFoundError: if `snli/snli_1.0_{dev,test}_gold.jsonl` are not
            both under `data_dir`.

    Example:

    ```python
    from keras_o2v.datasets import text_pairs

    premises, hypotheses, classes = text_pairs.read_text_pairs(
        text_pairs.snli("../shared/data"), "test")
    ```
    """
    files = {split: f"snli/snli_1.0_{split}_gold.jsonl"
             for split in ("dev", "test")}
    return _text_pairs(data_dir, "snli", files,
                       "snli/ (snli_1.0_dev_gold.jsonl, "
                       "snli_1.0_test_gold.jsonl)",
                       text0="sentence1", text1="sentence2",
                       label="gold_label", label_map=NLI_LABELS)


def multinli(data_dir=None):
    """MultiNLI 1.0 dev-matched, gold-labelled pairs (9815).

    Args:
        data_dir: optional str, the folder holding `multinli/`. Defaults to
            `keras_o2v.datasets.default_data_dir()`.

    Returns:
        `TextPairs` with the split `dev_matched`; labels are mapped to
        class ids by `NLI_LABELS`.

    Raises:
        FileNotFoundError: if the file is not under `data_dir`.

    Example:

    ```python
    from keras_o2v.datasets import text_pairs

    mnli = text_pairs.multinli("../shared/data")
    mnli.paths["dev_matched"]
    ```
    """
    files = {"dev_matched": "multinli/multinli_1.0_dev_matched_gold.jsonl"}
    return _text_pairs(data_dir, "multinli", files,
                       "multinli/ (multinli_1.0_dev_matched_gold.jsonl)",
                       text0="premise", text1="hypothesis", label="label",
                       label_map=NLI_LABELS)


def read_text_pairs(pairs, split):
    """The sentences and labels of one split, in file order.

    Args:
        pairs: a `TextPairs` (from `stsb`, `sick`, `snli`, `multinli`).
        split: str, a key of `pairs.paths`.

    Returns:
        `(texts0, texts1, labels)`, three lists: the two sentences, and the
        labels as floats or, with `pairs.label_map`, class ids. Rows whose
        label is not in `label_map` (SNLI's `"-"`) are left out, as
        `keras_o2v.data.prepare` leaves them out.

    Raises:
        ValueError: for an unknown `split`, a missing column or a label
            that is not a number (naming the file and line).

    Example:

    ```python
    from keras_o2v.datasets import text_pairs

    first, second, scores = text_pairs.read_text_pairs(
        text_pairs.stsb("../shared/data"), "dev")
    len(scores)  # 1500
    ```
    """
    if split not in pairs.paths:
        raise ValueError(f"`split` must be one of {sorted(pairs.paths)} for "
                         f"{pairs.name}. Received: split={split!r}")
    # Here, not at the top: `prepare` imports Keras (its tokenizer), which
    # the path checks above do not need.
    from keras_o2v.data.prepare import read_pairs

    path = pairs.paths[split]
    texts0, texts1, labels = [], [], []
    for lineno, text0, text1, label in read_pairs(
            path, pairs.text0, pairs.text1, pairs.label, pairs.delimiter):
        if pairs.label_map is not None:
            if label not in pairs.label_map:
                continue
            label = pairs.label_map[label]
        else:
            try:
                label = float(label)
            except (TypeError, ValueError):
                raise ValueError(f"{path}, line {lineno}: the label must be "
                                 f"a number. Received: {label!r}") from None
        texts0.append(text0)
        texts1.append(text1)
        labels.append(label)
    return texts0, texts1, labels


def entailment_pairs(data_dir=None):
    """The entailment pairs of SNLI dev and test and MultiNLI dev-matched.

    Positive (premise, hypothesis) pairs for training sentence embeddings,
    as InferSent trains on NLI data (here only what these files hold:
    about 10k pairs).

    Args:
        data_dir: optional str, the folder holding `snli/` and `multinli/`.
            Defaults to `keras_o2v.datasets.default_data_dir()`.

    Returns:
        `(premises, hypotheses)`, two lists of str: SNLI dev, then SNLI
        test, then MultiNLI, each in file order.

    Raises:
        FileNotFoundError: if a file of `snli` or `multinli` is missing.

    Example:

    ```python
    from keras_o2v.datasets import text_pairs

    premises, hypotheses = text_pairs.entailment_pairs("../shared/data")
    ```
    """
    nli = snli(data_dir)
    sources = [(nli, "dev"), (nli, "test"),
               (multinli(data_dir), "dev_matched")]
    premises, hypotheses = [], []
    for pairs, split in sources:
        first, second, labels = read_text_pairs(pairs, split)
        for text0, text1, label in zip(first, second, labels):
            if label == NLI_LABELS["entailment"]:
                premises.append(text0)
                hypotheses.append(text1)
    return premises, hypotheses
