"""The REST server: SageMaker's hosting contract and TF Serving's REST API.

Routes:

| route | contract |
|---|---|
| `GET /ping` | SageMaker health check: 200 once the model is loaded and warm |
| `POST /invocations` | SageMaker inference, `application/json` or `application/jsonlines` |
| `GET /v1/models/<name>` | TF Serving model status |
| `POST /v1/models/<name>:predict` | TF Serving predict, row or columnar format |

The TF Serving route takes every `signature_name` the exported SavedModel
holds (`keras_o2v.export.SIGNATURES`: the defaults and their `_int32`
variants, which give the same outputs: JSON ids suit either dtype).

Both POST routes truncate each input to its encoder's `encX_max_seq_len`
(`/invocations`: or to the request's `infer_max_seqlens`, at most 5000)
before padding the rows to the longest. The TF Serving route thus differs
from a SavedModel in TF Serving, which takes ids whole: here a row longer
than the model was trained on cannot make every row of its request that
long. The padded size of a request (rows x width, summed over its inputs)
is bounded by `max_padded_ids`.

Concurrency model: one process, one asyncio event loop (uvicorn) that
accepts connections and reads request bodies (enforcing the payload limit
as they stream in). The rest of a request (decode, validate, pad, one model
call for the whole batch, encode) runs in a worker thread (AnyIO's pool,
40 threads by default), so a slow request never blocks `/ping` or the
reading of other requests. The model call is a compiled `tf.function` that
releases the GIL: concurrent requests overlap one request's Python work with
another's TensorFlow ops, and each call's ops use TensorFlow's intra-op
thread pool (all cores). There is no batching across requests. To use more
cores for Python work, run several servers behind a load balancer.

Limits, each answered with a JSON error and logged in one line:

* `max_payload_mb`: a larger body gets a 413 (as soon as it is known).
* `max_padded_ids`: a request padding to more ids gets a 413, before any
  padding or model call.
* `body_timeout_s`: a body not received whole in that time gets a 408 and
  the connection is closed (clients holding half-sent bodies).
* `max_connections`: requests in flight at once (each holds a connection,
  reading its body or waiting for its answer); more get a 503 at once
  (`/ping` is exempt).
  Idle keep-alive connections are closed by uvicorn after 5 s and do not
  count; connections that never finish sending their headers are not
  bounded here (a reverse proxy's job).

A client that disconnects before sending its whole body is logged in one
line, without a traceback.

Every client error is a JSON `{"error": "..."}` with status 400 (bad body,
naming the instance and field), 404 (unknown model or route), 405, 406
(`Accept`), 408 (body too slow), 413 (payload or padded size over the
limit), 415 (`Content-Type`) or 503 (too many requests in flight); an
unexpected failure is a 500 with the same shape, logged with its traceback.
The server keeps serving after any of them.
"""

import logging

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Route

from keras_o2v.export import DEFAULT_NAME
from keras_o2v.export import SIGNATURES
from keras_o2v.export import signature_inputs
from keras_o2v.serving import formats

DEFAULT_MAX_PAYLOAD_MB = 6  # SageMaker real-time endpoints' limit
# A 6 MB JSON body holds at most ~3M ids (2 bytes each, as "1,"): 4M int32
# ids (16 MB padded, and the model's activations in proportion) leave room
# to pad any legitimate full-size batch, while one long row can no longer
# pad thousands of short ones to its length.
DEFAULT_MAX_PADDED_IDS = 4_000_000
# A 6 MB body takes well under a second on any real link.
DEFAULT_BODY_TIMEOUT_S = 30
DEFAULT_MAX_CONNECTIONS = 256

logger = logging.getLogger(__name__)


def _json(body, status=200, media=formats.JSON, headers=None):
    return Response(body, status_code=status, media_type=media,
                    headers=headers)


def _error(message, status, headers=None):
    return _json(formats.encode_error(message), status, headers=headers)


def _client(request):
    return "{}:{}".format(*request.client) if request.client else "client"


def _check_positive(name, value, kind=(int, float)):
    if isinstance(value, bool) or not isinstance(value, kind) or not (
            value > 0):
        what = "integer" if kind is int else "number"
        raise ValueError(f"`{name}` must be a positive {what}. "
                         f"Received: {name}={value!r}")


class _LimitInFlight:
    """ASGI middleware: a JSON 503 for requests beyond `limit` in flight.

    uvicorn's own `limit_concurrency` answers in plain text and also counts
    idle keep-alive connections. `/ping` is not limited: a busy server is
    still healthy. One event loop: no lock needed.
    """

    def __init__(self, app, limit):
        self.app, self.limit, self.in_flight = app, limit, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == "/ping":
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            client = scope.get("client")
            logger.warning("503 for %s: %d requests in flight "
                           "(max_connections=%d).",
                           "{}:{}".format(*client) if client else "client",
                           self.in_flight, self.limit)
            response = _error(
                f"Server busy: {self.in_flight} requests in flight, the "
                f"limit (max_connections={self.limit}). Retry later, or "
                "start the server with a larger --max-connections.", 503,
                {"Retry-After": "1", "Connection": "close"})
            return await response(scope, receive, send)
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _read_body(request, max_payload_mb, body_timeout_s):
    """The body, or a `RequestError`: 413 as soon as it exceeds the limit,
    408 if not received within `body_timeout_s`, 400 if the client left."""
    limit = int(max_payload_mb * 2**20)

    def too_large(size):
        return formats.RequestError(
            f"Payload of {size} bytes exceeds the limit of {limit} bytes "
            f"({max_payload_mb:g} MB): split the instances into several "
            "requests, or start the server with a larger --max-payload-mb.",
            status=413)

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared))
    chunks, size = [], 0
    try:
        with anyio.fail_after(body_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(f"more than {limit}")
                chunks.append(chunk)
    except TimeoutError:
        logger.warning("408 for %s: body not received within %gs (%d of %s "
                       "bytes).", _client(request), body_timeout_s, size,
                       declared or "?")
        raise formats.RequestError(
            f"The request body was not received within {body_timeout_s:g} "
            f"seconds (body_timeout_s; {size} bytes received): send the "
            "whole body at once, or split the instances into smaller "
            "requests.", status=408) from None
    except ClientDisconnect:
        # Nobody reads the answer; one line instead of uvicorn's traceback.
        logger.info("%s disconnected before sending its body (%d of %s "
                    "bytes).", _client(request), size, declared or "?")
        raise formats.RequestError("Client disconnected.") from None
    return b"".join(chunks)


def _client_errors(prepare):
    """Runs `prepare()`; its `ValueError`s are the client's (status 400)."""
    try:
        return prepare()
    except formats.RequestError:
        raise
    except ValueError as e:
        raise formats.RequestError(str(e)) from None


def create_app(predictor, model_name=DEFAULT_NAME,
               max_payload_mb=DEFAULT_MAX_PAYLOAD_MB, version=1,
               max_padded_ids=DEFAULT_MAX_PADDED_IDS,
               body_timeout_s=DEFAULT_BODY_TIMEOUT_S,
               max_connections=DEFAULT_MAX_CONNECTIONS):
    """The Starlette app serving `predictor` (a warmed-up `Predictor`).

    Args:
        predictor: `keras_o2v.serving.predictor.Predictor`.
        model_name: str. The `<name>` of the TF Serving routes.
        max_payload_mb: number. Larger request bodies get a 413.
        version: int. The version TF Serving's status route reports.
        max_padded_ids: int. Requests padding to more ids (rows x width
            after truncation, summed over the inputs) get a 413.
        body_timeout_s: number. Bodies not received whole in that many
            seconds get a 408.
        max_connections: int. Requests in flight beyond it get a 503.
    """
    _check_positive("max_payload_mb", max_payload_mb)
    _check_positive("max_padded_ids", max_padded_ids, int)
    _check_positive("body_timeout_s", body_timeout_s)
    _check_positive("max_connections", max_connections, int)
    # name -> input names, extra fields included (`signature_inputs`).
    signatures = {name: signature_inputs(predictor.hyperparameters, name)
                  for name in SIGNATURES}

    def invoke(body, content_type, accept):
        def prepare():
            media, max_seqlens = formats.parse_content_type(content_type)
            out_media = formats.negotiate_accept(accept)
            instances, locate = formats.parse_invocation(body, media)
            return out_media, predictor.prepare(
                instances, max_seqlens, locate, max_padded_ids=max_padded_ids)

        out_media, batch = _client_errors(prepare)
        values = predictor.run(batch)
        return formats.encode_predictions(batch.output, values,
                                          out_media), out_media

    def tfs_predict(body):
        def prepare():
            signature, instances, columnar = formats.parse_tfs_request(
                body, signatures)
            return columnar, predictor.prepare_signature(
                signature, instances, max_padded_ids=max_padded_ids)

        columnar, batch = _client_errors(prepare)
        return formats.encode_tfs_response(predictor.run(batch), columnar)

    def check_model(request):
        name = request.path_params["name"]
        if name != model_name:
            # TF Serving's own wording.
            raise formats.RequestError(
                f"Servable not found for request: Latest({name})", status=404)

    async def ping(request):
        return _json(b'{"status":"healthy"}')

    async def invocations(request):
        body = await _read_body(request, max_payload_mb, body_timeout_s)
        content, media = await run_in_threadpool(
            invoke, body, request.headers.get("content-type"),
            request.headers.get("accept"))
        return _json(content, media=media)

    async def model_status(request):
        check_model(request)
        return _json(formats.dumps({"model_version_status": [{
            "version": str(version), "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]}))

    async def predict(request):
        check_model(request)
        body = await _read_body(request, max_payload_mb, body_timeout_s)
        return _json(await run_in_threadpool(tfs_predict, body))

    async def request_error(request, exc):
        # A 408's client may still be sending: close rather than parse on.
        headers = {"Connection": "close"} if exc.status == 408 else None
        return _error(str(exc), exc.status, headers)

    async def http_error(request, exc):
        return _error(exc.detail, exc.status_code)

    async def internal_error(request, exc):
        # Starlette re-raises it after this response: uvicorn logs it.
        return _error(f"Internal error: {type(exc).__name__}: {exc}", 500)

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        # Before the status route, whose `{name}` would also match
        # "<name>:predict".
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/v1/models/{name}", model_status, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={
        formats.RequestError: request_error,
        HTTPException: http_error,
        Exception: internal_error,
    }, middleware=[Middleware(_LimitInFlight, limit=max_connections)])


def serve(predictor, host="127.0.0.1", port=8080, model_name=DEFAULT_NAME,
          max_payload_mb=DEFAULT_MAX_PAYLOAD_MB, log_level="info",
          max_padded_ids=DEFAULT_MAX_PADDED_IDS,
          body_timeout_s=DEFAULT_BODY_TIMEOUT_S,
          max_connections=DEFAULT_MAX_CONNECTIONS):
    """Serves `predictor` with uvicorn until interrupted (SIGINT/SIGTERM).

    The limits are `create_app`'s; uvicorn's keep-alive timeout (5 s)
    stays its default.
    """
    import uvicorn

    app = create_app(predictor, model_name, max_payload_mb,
                     max_padded_ids=max_padded_ids,
                     body_timeout_s=body_timeout_s,
                     max_connections=max_connections)
    uvicorn.run(app, host=host, port=port, log_level=log_level,
                access_log=False)
