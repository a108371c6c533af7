"""Raw text pairs -> Object2Vec JSON Lines, a JSON vocab and trimmed GloVe.

Tokenisation is Keras `TextVectorization`'s default: lower-case, strip ASCII
punctuation (`standardize="lower_and_strip_punctuation"`), split on
whitespace. `tokenize` calls a `TextVectorization` layer itself, so the ids
written here are exactly those the layer would give with the same vocab.

The vocab is built from the training file only: `<pad>` = 0, `<unk>` = 1,
then words by decreasing frequency (ties alphabetical), keeping words seen at
least `min_frequency` times, at most `max_vocab_size` ids in all. Words of the
validation and test files that are not in it map to `<unk>`.

Input files: `.jsonl`/`.json` (JSON Lines, columns are keys), `.csv` (comma
separated, quoted fields allowed) or anything else as tab-separated with no
quoting (`.tsv`, `.txt`, the STS Benchmark `.csv` files need `delimiter="\\t"`).
Columns are names from a header row, or 0-based integer positions for files
without a header.
"""

import collections
import csv
import dataclasses
import json
import os

import keras
import orjson

from keras_o2v.data.jsonl import open_data_file
from keras_o2v.atomic import temp_name

PAD, UNK = "<pad>", "<unk>"
TOKENIZE_BATCH = 4096


def _vectorizer(vocabulary=None):
    return keras.layers.TextVectorization(
        standardize="lower_and_strip_punctuation", split="whitespace",
        output_mode="int", ragged=True, vocabulary=vocabulary)


def tokenize(texts):
    """Lists of tokens of `texts`, as `TextVectorization` splits them."""
    # Ids of a layer whose vocabulary is every token seen, mapped back.
    layer = _vectorizer()
    tokens = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        batch = list(texts[start:start + TOKENIZE_BATCH])
        layer.adapt(batch)
        words = layer.get_vocabulary()
        for row in layer(batch).to_list():
            tokens.append([words[i] for i in row])
    return tokens


def to_ids(texts, vocab_words):
    """Token-id lists of `texts` for the vocab list (index = id)."""
    layer = _vectorizer(vocabulary=vocab_words[2:])  # it adds "" and [UNK]
    out = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        out.extend(layer(list(texts[start:start + TOKENIZE_BATCH])).to_list())
    return out


def build_vocab(token_lists, min_frequency=1, max_vocab_size=None):
    """Word list (index = id) with `<pad>`, `<unk>` first."""
    if min_frequency < 1:
        raise ValueError("`min_frequency` must be an integer >= 1. "
                         f"Received: min_frequency={min_frequency}")
    if max_vocab_size is not None and max_vocab_size < 3:
        raise ValueError("`max_vocab_size` must be at least 3 (<pad>, <unk> "
                         f"and a word). Received: max_vocab_size="
                         f"{max_vocab_size}")
    counts = collections.Counter(t for tokens in token_lists for t in tokens)
    words = sorted((w for w, c in counts.items() if c >= min_frequency),
                   key=lambda w: (-counts[w], w))
    if max_vocab_size is not None:
        words = words[:max_vocab_size - 2]
    return [PAD, UNK] + words


def _column(header, column, path):
    if isinstance(column, int) or (isinstance(column, str)
                                   and column.isdigit()):
        return int(column)
    if header is None or column not in header:
        raise ValueError(f"{path}: no column {column!r}. Columns: "
                         f"{header if header is not None else 'no header'}"
                         "; use names from the header or 0-based positions.")
    return header.index(column)


def read_pairs(path, text0, text1, label=None, delimiter=None):
    """Yields `(line, text0, text1, label)` from a JSONL, CSV or TSV file.

    `label` is None when no label column is given. Columns are header names
    or integer positions (a file whose columns are all given as positions is
    read as having no header).
    """
    columns = [c for c in (text0, text1, label) if c is not None]
    if path.endswith((".jsonl", ".json", ".jsonl.gz")):
        with open_data_file(path) as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                row = orjson.loads(line)
                missing = [c for c in columns if c not in row]
                if missing:
                    raise ValueError(f"{path}, line {lineno}: missing "
                                     f"field {missing[0]!r}.")
                yield (lineno, row[text0], row[text1],
                       None if label is None else row[label])
        return
    if delimiter is None:
        delimiter = "," if path.endswith(".csv") else "\t"
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    positional = all(isinstance(c, int) or str(c).isdigit() for c in columns)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        header = None if positional else next(reader, None)
        index = [_column(header, c, path) for c in (text0, text1)]
        label_index = None if label is None else _column(header, label, path)
        first = 1 if positional else 2
        for lineno, row in enumerate(reader, start=first):
            if not row:
                continue
            need = max(index + [label_index or 0])
            if len(row) <= need:
                raise ValueError(f"{path}, line {lineno}: {len(row)} fields, "
                                 f"column {need} needed.")
            yield (lineno, row[index[0]], row[index[1]],
                   None if label_index is None else row[label_index])


@dataclasses.dataclass
class PreparedSplit:
    path: str
    pairs: int
    skipped_no_label: int
    skipped_empty: int
    unk_rate: float


def _labels(raw, label_map, path):
    if label_map is not None:
        return [label_map.get(v) for _, v in raw]  # None: skipped
    out = []
    for lineno, v in raw:
        try:
            y = float(v)
        except (TypeError, ValueError):
            raise ValueError(
                f"{path}, line {lineno}: label {v!r} is not a number; pass "
                "`label_map` (e.g. entailment=0,neutral=1,contradiction=2)."
            ) from None
        out.append(int(y) if y.is_integer() else y)
    return out


def prepare(train, output_dir, text0, text1, label=None, validation=None,
            test=None, label_map=None, min_frequency=1, max_vocab_size=None,
            embeddings=None, delimiter=None, extend_with_embeddings=False):
    """Writes `{train,validation,test}.jsonl`, `vocab.json` (+ vectors).

    Args:
        train: text-pair file the vocab is built from.
        output_dir: directory for the outputs (created).
        text0, text1: columns of the two texts (`in0`, `in1`).
        label: column of the label, or None (unlabelled inference data).
        validation, test: optional further files with the same columns.
        label_map: optional dict raw label -> class id; rows whose label is
            not in it (e.g. SNLI's "-") are skipped and counted. Without it,
            labels must be numbers.
        min_frequency: int. Fewest training occurrences a word needs.
        max_vocab_size: optional int. Most ids, `<pad>` and `<unk>` included.
        embeddings: optional GloVe-format file; its rows for vocab words are
            written to `embeddings.txt` (same format), for the auxiliary
            channel.
        delimiter: optional field separator for non-JSON files.
        extend_with_embeddings: bool. Also add the words of the validation
            and test files that have a vector in `embeddings` (labels are
            not used). With frozen pretrained vectors this is what
            SageMaker's sentence-similarity notebook does: such words keep
            their meaning instead of becoming `<unk>`. Defaults to False.

    Returns:
        dict with the vocab size and one `PreparedSplit` per file, also
        written to `prepare.json`. Every output is written to a temporary
        name and renamed, `prepare.json` last.
    """
    os.makedirs(output_dir, exist_ok=True)
    summary_path = os.path.join(output_dir, "prepare.json")
    if os.path.exists(summary_path):
        os.remove(summary_path)  # it marks a complete output: not yet
    splits = {"train": train, "validation": validation, "test": test}
    rows = {}
    for name, path in splits.items():
        if path is not None:
            rows[name] = list(read_pairs(path, text0, text1, label,
                                         delimiter))
    words = build_vocab(tokenize([r[1] for r in rows["train"]])
                        + tokenize([r[2] for r in rows["train"]]),
                        min_frequency, max_vocab_size)
    if extend_with_embeddings:
        if embeddings is None:
            raise ValueError("`extend_with_embeddings=True` needs an "
                             "`embeddings` file. Received: embeddings=None")
        with open_data_file(embeddings) as f:
            has_vector = {line.split(b" ", 1)[0].decode("utf-8", "replace")
                          for line in f}
        known = set(words)
        for name in ("validation", "test"):
            for column in (1, 2):
                for tokens in tokenize([r[column] for r in rows.get(name,
                                                                     [])]):
                    for t in tokens:
                        if t not in known and t in has_vector:
                            known.add(t)
                            words.append(t)
    summary = {"vocab_size": len(words), "tokenizer":
               "TextVectorization(lower_and_strip_punctuation, whitespace)",
               "splits": {}}
    outputs = []  # (temporary, final) paths, renamed once all are written
    try:
        _write_outputs(rows, splits, label, label_map, words, embeddings,
                       output_dir, outputs, summary)
        for tmp, path in outputs:
            os.replace(tmp, path)
    finally:
        for tmp, _ in outputs:
            if os.path.exists(tmp):
                os.remove(tmp)
    tmp = temp_name(summary_path)
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=2)
    os.replace(tmp, summary_path)
    return summary


def _write_outputs(rows, splits, label, label_map, words, embeddings,
                   output_dir, outputs, summary):
    for name, rs in rows.items():
        out_path = os.path.join(output_dir, f"{name}.jsonl")
        ids0 = to_ids([r[1] for r in rs], words)
        ids1 = to_ids([r[2] for r in rs], words)
        labels = (_labels([(r[0], r[3]) for r in rs], label_map, splits[name])
                  if label is not None else [None] * len(rs))
        no_label = empty = unk = total = 0
        tmp = temp_name(out_path)
        outputs.append((tmp, out_path))
        with open(tmp, "wb") as f:
            for a, b, y in zip(ids0, ids1, labels):
                if label is not None and y is None:
                    no_label += 1
                    continue
                if not a or not b:
                    empty += 1  # nothing left after tokenisation
                    continue
                unk += a.count(1) + b.count(1)
                total += len(a) + len(b)
                record = {"in0": a, "in1": b}
                if y is not None:
                    record = {"label": y, **record}
                f.write(orjson.dumps(record) + b"\n")
        split = PreparedSplit(out_path, len(rs) - no_label - empty, no_label,
                              empty, unk / max(1, total))
        summary["splits"][name] = dataclasses.asdict(split)
    vocab_path = os.path.join(output_dir, "vocab.json")
    tmp = temp_name(vocab_path)
    outputs.append((tmp, vocab_path))
    with open(tmp, "w") as f:
        json.dump({w: i for i, w in enumerate(words)}, f)
    if embeddings is not None:
        out_path = os.path.join(output_dir, "embeddings.txt")
        tmp = temp_name(out_path)
        outputs.append((tmp, out_path))
        summary["embeddings_rows"] = trim_embeddings(embeddings, words, tmp)


def trim_embeddings(path, words, out_path):
    """Copies the rows of `path` whose word is in `words` (or lower-cased
    matches one); returns the number of rows written."""
    wanted = {w.encode("utf-8") for w in words[2:]}
    wanted |= {w.lower() for w in wanted}
    written = 0
    with open_data_file(path) as f, open(out_path, "wb") as out:
        for line in f:
            word = line.split(b" ", 1)[0]
            if word in wanted:
                out.write(line if line.endswith(b"\n") else line + b"\n")
                written += 1
    return written


def parse_label_map(text):
    """`"a=0,b=1"` -> `{"a": 0, "b": 1}`."""
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise ValueError("`label_map` must look like "
                             "'entailment=0,neutral=1'. Received: "
                             f"label_map={text!r}")
        out[key.strip()] = int(value)
    return out


