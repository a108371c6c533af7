import gzip
import json
import os
import re

import numpy as np
import pytest

from keras_o2v.data import InputSpec
from keras_o2v.data import RecordSpec
from keras_o2v.data import read_records
from keras_o2v.data import scan

SPEC = RecordSpec({"in0": InputSpec(vocab_size=10, max_seq_len=3),
                   "in1": InputSpec(vocab_size=5, max_seq_len=2)},
                  label="softmax", num_classes=3)
GOOD = {"label": 1, "in0": [1, 2], "in1": [3]}


def read_all(path, spec=SPEC, chunk_lines=4):
    return list(read_records(path, spec, chunk_lines=chunk_lines))


@pytest.mark.parametrize("line,field,message", [
    ('{"label": 1, "in0": [1, 2], "in1": [3]', None, "malformed JSON"),
    ('[1, 2, 3]', None, "expected a JSON object"),
    ({"in0": [1], "in1": [2]}, "label", "missing"),
    ({"label": 1, "in1": [2]}, "in0", "missing"),
    ({"label": 1, "in0": [1]}, "in1", "missing"),
    ({"label": 1, "in0": [1, 2.5], "in1": [2]}, "in0",
     "id at position 1 is not an integer: 2.5"),
    ({"label": 1, "in0": [1, "7"], "in1": [2]}, "in0", "is not an integer"),
    ({"label": 1, "in0": [True], "in1": [2]}, "in0", "is not an integer"),
    ({"label": 1, "in0": 4, "in1": [2]}, "in0", "expected a list of ids"),
    ({"label": 1, "in0": [1, -3], "in1": [2]}, "in0", "negative: -3"),
    ({"label": 1, "in0": [1], "in1": [2, 5]}, "in1",
     "id 5 at position 1 is >= vocab_size=5 \\(set `enc1_vocab_size` to at "
     "least 6\\)"),
    ({"label": 1, "in0": [], "in1": [2]}, "in0", "empty list"),
    ({"label": 1, "in0": [0, 0], "in1": [2]}, "in0", "only padding ids"),
    ({"label": 3, "in0": [1], "in1": [2]}, "label",
     "invalid label 3. Valid: an integer class in \\[0, 2\\]"),
    ({"label": 0.5, "in0": [1], "in1": [2]}, "label", "invalid label 0.5"),
    ({"label": "1", "in0": [1], "in1": [2]}, "label", "invalid label '1'"),
    ({"label": None, "in0": [1], "in1": [2]}, "label", "invalid label"),
    # Two valid objects on one line: the chunk-wide parse must not split it.
    ('{"label": 1, "in0": [1], "in1": [2]}, {"label": 1, "in0": [1], '
     '"in1": [2]}', None, "malformed JSON"),
])
def test_bad_record_names_file_line_and_field(write_jsonl, line, field,
                                              message):
    # The bad record is line 7, after a blank line, in the second chunk.
    rows = [GOOD] * 5 + [""] + [line] + [GOOD] * 3
    path = write_jsonl(rows)
    where = re.escape(f"{path}, line 7") + (f", field `{field}`" if field
                                            else "")
    with pytest.raises(ValueError, match=f"^{where}: .*{message}"):
        read_all(path)
    with pytest.raises(ValueError, match=f"^{where}: .*{message}"):
        scan(path, SPEC)


def test_bad_regression_label(write_jsonl):
    spec = RecordSpec(SPEC.inputs, label="regression")
    path = write_jsonl([GOOD, {"label": "4", "in0": [1], "in1": [2]}])
    with pytest.raises(ValueError, match="line 2, field `label`: invalid "
                                         "label '4'. Valid: a finite number"):
        read_all(path, spec)
    # NaN is not JSON: json.dumps writes it, strict parsers refuse it. The
    # error says so, and what a label may be.
    path = write_jsonl([{"label": float("nan"), "in0": [1], "in1": [2]}],
                       "nan.jsonl")
    with pytest.raises(ValueError, match=r"line 1, field `label`: NaN is not "
                       r"a JSON number \(JSON has no NaN or Infinity.*Valid: "
                       r"a finite number"):
        read_all(path, spec)
    path = write_jsonl([{"label": 3.7, "in0": [1], "in1": [2]}], "ok.jsonl")
    assert read_all(path, spec)[0].labels.tolist() == [pytest.approx(3.7)]


def test_valid_records_are_parsed_and_truncated_to_the_head(write_jsonl):
    path = write_jsonl([
        {"label": 2, "in0": [1, 2, 3, 4, 5], "in1": [4, 3, 2]},
        "",
        {"label": 0.0, "in0": [9], "in1": [1], "extra": "ignored"},
    ])
    (chunk,) = read_all(path)
    assert chunk.labels.tolist() == [2, 0]
    np.testing.assert_array_equal(chunk.in0.to_padded(), [[1, 2, 3],
                                                          [9, 0, 0]])
    np.testing.assert_array_equal(chunk.in1.to_padded(), [[4, 3], [1, 0]])


def test_directory_and_gzip(tmp_path):
    directory = tmp_path / "train"
    directory.mkdir()
    (directory / "a.jsonl").write_text(json.dumps(GOOD) + "\n")
    with gzip.open(directory / "b.jsonl.gz", "wt") as f:
        f.write(json.dumps({**GOOD, "label": 2}) + "\n")
    (directory / ".hidden").write_text("not json\n")
    labels = [c.labels.tolist() for c in read_all(str(directory))]
    assert labels == [[1], [2]]
    stats = scan(str(directory), SPEC)
    assert (stats.records, stats.nonzero_labels) == (2, 2)


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(ValueError, match="neither a file nor a directory"):
        read_all(os.path.join(tmp_path, "nope.jsonl"))
    with pytest.raises(ValueError, match="holds no data files"):
        read_all(str(tmp_path))


def test_inference_spec_needs_no_label(write_jsonl):
    spec = RecordSpec({"in1": InputSpec(5, 4)})
    path = write_jsonl([{"in1": [1, 2]}, {"in1": [4], "label": "anything"}])
    (chunk,) = read_all(path, spec)
    np.testing.assert_array_equal(chunk.in1.to_padded(), [[1, 2], [4, 0]])


def test_stream_is_chunked_not_loaded_whole(write_jsonl):
    path = write_jsonl([GOOD] * 10)
    chunks = read_all(path, chunk_lines=4)
    assert [len(c) for c in chunks] == [4, 4, 2]


def test_read_jsonl_counts_blank_lines_and_names_bad_ones(tmp_path):
    from keras_o2v.data.jsonl import column
    from keras_o2v.data.jsonl import read_jsonl

    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n  \n{"a": 2, "b": [3]}\n')
    assert read_jsonl(str(path)) == [{"a": 1}, {"a": 2, "b": [3]}]
    rows, lines = read_jsonl(str(path), with_line_numbers=True)
    assert lines == [1, 4]
    assert column(rows, "a", str(path), lines) == [1, 2]
    with pytest.raises(ValueError, match=r"rows\.jsonl:1: field `b` "
                                         r"\(--flag\) missing; every line "
                                         r"must hold it. Keys on that line: "
                                         r"\['a'\]"):
        column(rows, "b", str(path), lines, hint="--flag")
    path.write_text('{"a": 1}\n\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"rows\.jsonl:3: expected a JSON "
                                         r"object, got list"):
        read_jsonl(str(path))
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ValueError, match=r"rows\.jsonl:2: not JSON"):
        read_jsonl(str(path))
