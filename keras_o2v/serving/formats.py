"""Wire formats: SageMaker's and TF Serving's requests and responses.

SageMaker (OBJECT2VEC.md §3), `POST /invocations`:

* `Content-Type: application/json`: `{"instances": [{"in0": [...], "in1":
  [...]}, ...]}`; `application/jsonlines`: one instance per line. A
  parameter `infer_max_seqlens=<in0 len>,<in1 len>` sets the truncation
  lengths for the request.
* `Accept: application/json` -> `{"predictions": [{"scores": [...]}, ...]}`
  (or `"embeddings"`); `application/jsonlines` -> one `{"scores": [...]}`
  per line.

TF Serving REST, `POST /v1/models/<name>:predict`: `{"signature_name": ...,
"instances": [...]}` (row format) -> `{"predictions": [...]}`, or
`{"inputs": ...}` (columnar) -> `{"outputs": ...}`. Each signature has one
output, so, as TF Serving does, its name is omitted.

Errors are `RequestError`s carrying the HTTP status; the server sends them as
`{"error": "..."}`. Floats are written in their shortest float32 form.
"""

import io

import orjson

from keras_o2v.data.jsonl import malformed_json_message
from keras_o2v.instances import EXAMPLE_INSTANCE
from keras_o2v.instances import MAX_INFER_SEQLEN
from keras_o2v.instances import instance_name

JSON = "application/json"
JSONLINES = "application/jsonlines"
# Accepted spellings of each media type (request and Accept headers).
_ALIASES = {
    JSON: JSON,
    JSONLINES: JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-jsonlines": JSONLINES,
}
EXAMPLE_REQUEST = '{"instances": [' + EXAMPLE_INSTANCE + ']}'
_JSON_HINT = (f"Expected a JSON object {{\"instances\": [...]}} such as "
              f"{EXAMPLE_REQUEST}, or with Content-Type: {JSONLINES} one "
              f"instance per line")


class RequestError(ValueError):
    """A client error: the HTTP `status` and a message for `{"error": ...}`."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def dumps(obj):
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def _loads(body, hint):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise RequestError(f"Malformed JSON ({e}). {hint}.") from None


def _type_name(value):
    return "JSON array" if isinstance(value, list) else (
        f"JSON {type(value).__name__}")


def parse_media_type(header):
    """`"application/json; a=1"` -> `("application/json", {"a": "1"})`."""
    media, *params = (header or "").split(";")
    parsed = {}
    for param in params:
        key, sep, value = param.partition("=")
        if sep:
            parsed[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), parsed


def parse_max_seqlens(value):
    """`"20,10"` -> `(20, 10)`, each in [1, 5000]."""
    try:
        lengths = tuple(int(part) for part in value.split(","))
    except ValueError:
        lengths = ()
    if len(lengths) != 2 or not all(1 <= n <= MAX_INFER_SEQLEN
                                    for n in lengths):
        raise RequestError(
            f"`infer_max_seqlens` must be two integers in [1, "
            f"{MAX_INFER_SEQLEN}], the lengths for in0 and in1, e.g. "
            f"Content-Type: {JSON}; infer_max_seqlens=20,10. Received: "
            f"infer_max_seqlens={value!r}")
    return lengths


def parse_content_type(header):
    """The request's media type and `infer_max_seqlens` (or None).

    A missing header means `application/json`.
    """
    media, params = parse_media_type(header or JSON)
    if media not in _ALIASES:
        raise RequestError(
            f"Content-Type must be {JSON} or {JSONLINES}. Received: "
            f"Content-Type={header!r}", status=415)
    max_seqlens = params.get("infer_max_seqlens")
    return _ALIASES[media], (parse_max_seqlens(max_seqlens)
                             if max_seqlens is not None else None)


def negotiate_accept(header):
    """The response media type `Accept` prefers; `application/json` by default.

    Honours q-values; on equal q an explicit type beats `application/*`,
    which beats `*/*`, and then the earlier entry wins.
    """
    if not header or not header.strip():
        return JSON
    best = None
    for position, item in enumerate(header.split(",")):
        media, params = parse_media_type(item)
        try:
            q = float(params.get("q", 1))
        except ValueError:
            continue
        if media in _ALIASES:
            chosen, specificity = _ALIASES[media], 2
        elif media in ("*/*", "application/*"):
            chosen, specificity = JSON, int(media == "application/*")
        else:
            continue
        rank = (q, specificity, -position)
        if q > 0 and (best is None or rank > best[0]):
            best = (rank, chosen)
    if best is None:
        raise RequestError(f"Accept must allow {JSON} or {JSONLINES}. "
                           f"Received: Accept={header!r}", status=406)
    return best[1]


def parse_lines(lines, locate_line=lambda k: f"line {k + 1}"):
    """JSON Lines -> (objects, positions of their lines in `lines`).

    Blank lines are skipped. Each line is decoded on its own: lines are
    never joined, so two broken lines cannot pass as valid objects and
    object `i` always comes from line `positions[i]`.
    """
    positions = [k for k, line in enumerate(lines) if line.strip()]
    try:
        return [orjson.loads(lines[k]) for k in positions], positions
    except orjson.JSONDecodeError:
        pass
    for k in positions:
        try:
            orjson.loads(lines[k])
        except orjson.JSONDecodeError as e:
            raise RequestError(malformed_json_message(
                locate_line(k), lines[k], e,
                example=EXAMPLE_INSTANCE)) from None
    raise AssertionError("a line failed to decode, then decoded")


def parse_invocation(body, media):
    """SageMaker request body -> (instances, locate).

    `locate(i)` names instance `i` in errors: `"instance 2"`, or for JSON
    Lines `"instance 2 (line 4)"`.
    """
    if media == JSONLINES:
        instances, positions = parse_lines(body.splitlines())
        if not instances:
            raise RequestError(f"No instances: the {JSONLINES} body has no "
                               f"lines. {_JSON_HINT}.")
        return instances, (
            lambda i: f"instance {i} (line {positions[i] + 1})")
    obj = _loads(body, _JSON_HINT)
    if isinstance(obj, list):
        raise RequestError(
            f"Expected a JSON object {{\"instances\": [...]}}, received a "
            f"bare JSON array. Wrap the list: {{\"instances\": <your list>}}, "
            f"e.g. {EXAMPLE_REQUEST}; or send one instance per line with "
            f"Content-Type: {JSONLINES}.")
    if not isinstance(obj, dict) or "instances" not in obj:
        got = (f"an object with keys {sorted(obj)}" if isinstance(obj, dict)
               else f"a {_type_name(obj)}")
        raise RequestError(f"Expected a JSON object with key `instances`, "
                           f"received {got}. {_JSON_HINT}.")
    # `detect_fields` checks that it is a non-empty list.
    return obj["instances"], instance_name


class PredictionWriter:
    """Writes SageMaker predictions to a binary stream, batch by batch.

    `application/json`: `{"predictions":[{"scores":[...]},...]}`, with
    `close()` writing the end; `application/jsonlines`: one object per line.
    """

    def __init__(self, out, media):
        self.out = out
        self.media = media
        self.count = 0
        if media == JSON:
            out.write(b'{"predictions":[')

    def write(self, output, values, positions=None, num_lines=None):
        """Writes one `{output: row}` per row of the `(n, k)` `values`.

        With `positions` (row `i` answers input line `positions[i]`) and
        `num_lines`, JSON Lines output gets a blank line for each blank
        input line, so that output line N always answers input line N.
        """
        items = [dumps({output: row}) for row in values]
        if self.media == JSONLINES and positions is not None:
            lines = [b""] * num_lines
            for position, item in zip(positions, items):
                lines[position] = item
            self.out.write(b"".join(line + b"\n" for line in lines))
        elif self.media == JSONLINES:
            self.out.write(b"".join(item + b"\n" for item in items))
        elif items:
            self.out.write((b"," if self.count else b"") + b",".join(items))
        self.count += len(items)

    def close(self):
        if self.media == JSON:
            self.out.write(b"]}")


def encode_predictions(output, values, media):
    """SageMaker response body for one batch."""
    buffer = io.BytesIO()
    writer = PredictionWriter(buffer, media)
    writer.write(output, values)
    writer.close()
    return buffer.getvalue()


def _check_input_name(where, field, inputs, signature):
    if field not in inputs:
        raise RequestError(f"{where}, field `{field}`: not an input of "
                           f"signature `{signature}` (inputs: "
                           f"{list(inputs)}).")


def _named(value, inputs):
    """TF Serving lets a one-input signature take a bare list: name it."""
    if isinstance(value, list) and len(inputs) == 1:
        return {inputs[0]: value}
    return value


def _tfs_rows(rows, inputs, signature):
    if not isinstance(rows, list) or not rows:
        raise RequestError("`instances` must be a non-empty list. Received: "
                           f"instances={_type_name(rows)}.")
    instances = []
    for index, row in enumerate(rows):
        row = _named(row, inputs)
        if not isinstance(row, dict):
            raise RequestError(
                f"instance {index}: expected an object with the inputs "
                f"{list(inputs)} of signature `{signature}`, got "
                f"{_type_name(row)}.")
        instances.append(row)
        for field in row:
            _check_input_name(f"instance {index}", field, inputs, signature)
    return instances


def _tfs_columns(columns, inputs, signature):
    columns = _named(columns, inputs)
    if not isinstance(columns, dict):
        raise RequestError(
            f"`inputs` must be an object mapping each input of signature "
            f"`{signature}` ({list(inputs)}) to a list of rows. Received: "
            f"inputs={_type_name(columns)}.")
    for field in list(columns) + list(inputs):
        _check_input_name("`inputs`", field, inputs, signature)
        if field not in columns:
            raise RequestError(f"`inputs`, field `{field}`: missing; "
                               f"signature `{signature}` needs "
                               f"{list(inputs)}.")
        if not isinstance(columns[field], list) or not columns[field]:
            raise RequestError(f"`inputs`, field `{field}`: must be a "
                               "non-empty list of rows (lists of ids).")
    sizes = {field: len(columns[field]) for field in inputs}
    if len(set(sizes.values())) > 1:
        raise RequestError(f"`inputs` fields must have the same number of "
                           f"rows. Received: {sizes}.")
    return [{field: columns[field][i] for field in inputs}
            for i in range(sizes[inputs[0]])]


def parse_tfs_request(body, signatures):
    """TF Serving `:predict` body -> (signature name, instances, columnar).

    Args:
        body: bytes.
        signatures: dict signature name -> tuple of its input names.
    """
    hint = ("Expected {\"instances\": [...]} (row format) or {\"inputs\": "
            "...} (columnar format), and optionally \"signature_name\"")
    obj = _loads(body, hint)
    if not isinstance(obj, dict):
        raise RequestError(f"{hint}; received a {_type_name(obj)}.")
    signature = obj.get("signature_name", "serving_default")
    if signature not in signatures:
        raise RequestError(f"`signature_name` must be one of "
                           f"{sorted(signatures)}. Received: "
                           f"signature_name={signature!r}")
    if ("instances" in obj) == ("inputs" in obj):
        raise RequestError(f"{hint}: exactly one of `instances` and "
                           f"`inputs`. Received keys: {sorted(obj)}.")
    inputs = signatures[signature]
    if "instances" in obj:
        return signature, _tfs_rows(obj["instances"], inputs, signature), False
    return signature, _tfs_columns(obj["inputs"], inputs, signature), True


def encode_tfs_response(values, columnar):
    """`{"predictions": values}` (row) or `{"outputs": values}` (columnar)."""
    return dumps({"outputs" if columnar else "predictions": values})


def encode_error(message):
    return dumps({"error": message})
