"""Batch prediction over JSON Lines files, as SageMaker batch transform.

One output per input line, in order: `{"scores": [...]}` for lines holding
`in0` and `in1`, `{"embeddings": [...]}` for lines holding one of them. The
first line sets the mode for the whole input; a line asking for the other
mode is an error naming it. `label` (and any other key) is ignored, so a
labelled training or test file can be scored as is. Each line is decoded on
its own. With `application/jsonlines` output, line N of the output answers
line N of the input (over a directory, of its files in sorted order): a
blank input line gives a blank output line. With `application/json`,
`predictions[i]` answers the i-th non-blank input line.

Streaming: `chunk_lines` lines are read, validated, run through the model in
one call and written before the next chunk is read, so memory does not grow
with the file. The output is written to a hidden temporary file beside
`output_path` and renamed when complete: on any error `output_path` is left
as it was.

On TensorFlow and JAX the model runs through its serving functions, as
`keras-o2v serve` does; PyTorch has none (Keras exports no TensorFlow graph
from it), and models with extra fields none yet, so there the model is
called directly.
"""

import os

import keras
from keras import ops

from keras_o2v.atomic import atomic_path
from keras_o2v.data import list_files
from keras_o2v.data.jsonl import read_line_chunks
from keras_o2v.export import SIGNATURES
from keras_o2v.serving import formats
from keras_o2v.serving.predictor import Predictor

DEFAULT_CHUNK_LINES = 1024
ACCEPT = (formats.JSONLINES, formats.JSON)


def predict_file(model, input_path, output_path, accept=formats.JSONLINES,
                 chunk_lines=DEFAULT_CHUNK_LINES):
    """Writes the predictions of every line of `input_path` to `output_path`.

    Args:
        model: a `keras_o2v.Object2Vec`, or a `Predictor` of one.
        input_path: a JSON Lines file (`.gz` is decompressed), or a
            directory of them (non-hidden files in sorted order).
        output_path: str. `application/jsonlines`: one object per line;
            `application/json`: one `{"predictions": [...]}` document.
        accept: `"application/jsonlines"` (default) or `"application/json"`.
        chunk_lines: int. Lines per model call.

    Returns:
        int, the number of predictions written.

    Raises:
        ValueError: naming file, line and field of the first bad line.
    """
    if accept not in ACCEPT:
        raise ValueError(f"`accept` must be one of {list(ACCEPT)}. "
                         f"Received: accept={accept!r}")
    if isinstance(chunk_lines, bool) or not isinstance(
            chunk_lines, int) or chunk_lines < 1:
        raise ValueError("`chunk_lines` must be a positive integer. "
                         f"Received: chunk_lines={chunk_lines!r}")
    if isinstance(model, Predictor):
        predictor = model
    elif keras.backend.backend() == "torch" or has_fields(model):
        predictor = _ModelPredictor(model)
    else:
        predictor = Predictor(model)
    files = list_files(input_path)
    mode = None  # (fields, where) of the first line: every line must match
    with atomic_path(output_path) as tmp, open(tmp, "wb") as out:
        writer = formats.PredictionWriter(out, accept)
        for path in files:
            for first, lines in read_line_chunks(path, chunk_lines):
                def locate_line(k, path=path, first=first):
                    return f"{path}, line {first + k}"

                instances, positions = formats.parse_lines(lines, locate_line)
                if not instances:
                    writer.write(None, [], [], len(lines))
                    continue
                batch = predictor.prepare(
                    instances, locate=lambda i: locate_line(positions[i]),
                    expected=mode)
                if mode is None:
                    mode = (SIGNATURES[batch.signature].inputs,
                            locate_line(positions[0]))
                writer.write(batch.output, predictor.run(batch), positions,
                             len(lines))
        writer.close()
        out.flush()
        os.fsync(out.fileno())
    return writer.count


def has_fields(model):
    """Does `model` read extra fields (which the serving signatures lack)?"""
    hp = model.hyperparameters
    return bool(hp.get("enc0_fields") or hp.get("enc1_fields"))


class _ModelPredictor(Predictor):
    """A `Predictor` that calls the model itself: for PyTorch, and for
    models with extra fields.

    Same validation and padding (`prepare`); `run` calls the model (pair
    scores) or encodes the one side (embeddings).
    """

    def __init__(self, model):
        self.hyperparameters = dict(model.hyperparameters)
        self.model = model

    def run(self, batch):
        sides = SIGNATURES[batch.signature].inputs
        if len(sides) == 2:
            outputs = self.model.pair_scores(batch.arrays)
        else:
            outputs = self.model.encode(sides[0], batch.arrays)
        # `convert_to_numpy`, not `np.asarray`: PyTorch outputs track
        # gradients.
        return ops.convert_to_numpy(outputs)
