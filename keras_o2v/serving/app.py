"""The REST server: SageMaker's hosting contract and TF Serving's REST API.

Routes:

| route | contract |
|---|---|
| `GET /ping` | SageMaker health check: 200 once the model is loaded and warm |
| `POST /invocations` | SageMaker inference, `application/json` or `application/jsonlines` |
| `GET /v1/models/<name>` | TF Serving model status |
| `POST /v1/models/<name>:predict` | TF Serving predict, row or columnar format |

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

Every client error is a JSON `{"error": "..."}` with status 400 (bad body,
naming the instance and field), 404 (unknown model or route), 405, 406
(`Accept`), 413 (payload over the limit) or 415 (`Content-Type`); an
unexpected failure is a 500 with the same shape, logged with its traceback.
The server keeps serving after any of them.
"""

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Route

from keras_o2v.export import DEFAULT_NAME
from keras_o2v.export import SIGNATURES
from keras_o2v.serving import formats

DEFAULT_MAX_PAYLOAD_MB = 6  # SageMaker real-time endpoints' limit
_SIGNATURE_INPUTS = {name: inputs for name, (inputs, _) in SIGNATURES.items()}


def _json(body, status=200, media=formats.JSON):
    return Response(body, status_code=status, media_type=media)


def _error(message, status):
    return _json(formats.encode_error(message), status)


async def _read_body(request, max_payload_mb):
    """The body, or a 413 `RequestError` as soon as it exceeds the limit."""
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
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"more than {limit}")
        chunks.append(chunk)
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
               max_payload_mb=DEFAULT_MAX_PAYLOAD_MB, version=1):
    """The Starlette app serving `predictor` (a warmed-up `Predictor`).

    Args:
        predictor: `keras_o2v.serving.predictor.Predictor`.
        model_name: str. The `<name>` of the TF Serving routes.
        max_payload_mb: number. Larger request bodies get a 413.
        version: int. The version TF Serving's status route reports.
    """
    if isinstance(max_payload_mb, bool) or not isinstance(
            max_payload_mb, (int, float)) or not max_payload_mb > 0:
        raise ValueError("`max_payload_mb` must be a positive number. "
                         f"Received: max_payload_mb={max_payload_mb!r}")

    def invoke(body, content_type, accept):
        def prepare():
            media, max_seqlens = formats.parse_content_type(content_type)
            out_media = formats.negotiate_accept(accept)
            instances, locate = formats.parse_invocation(body, media)
            return out_media, predictor.prepare(instances, max_seqlens,
                                                locate)

        out_media, batch = _client_errors(prepare)
        values = predictor.run(batch)
        return formats.encode_predictions(batch.output, values,
                                          out_media), out_media

    def tfs_predict(body):
        def prepare():
            signature, instances, columnar = formats.parse_tfs_request(
                body, _SIGNATURE_INPUTS)
            return columnar, predictor.prepare_signature(signature,
                                                         instances)

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
        body = await _read_body(request, max_payload_mb)
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
        body = await _read_body(request, max_payload_mb)
        return _json(await run_in_threadpool(tfs_predict, body))

    async def request_error(request, exc):
        return _error(str(exc), exc.status)

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
    })


def serve(predictor, host="127.0.0.1", port=8080, model_name=DEFAULT_NAME,
          max_payload_mb=DEFAULT_MAX_PAYLOAD_MB, log_level="info"):
    """Serves `predictor` with uvicorn until interrupted (SIGINT/SIGTERM)."""
    import uvicorn

    app = create_app(predictor, model_name, max_payload_mb)
    uvicorn.run(app, host=host, port=port, log_level=log_level,
                access_log=False)
