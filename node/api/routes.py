"""aiohttp handlers: parse, validate, call the service or a participant handler, reply.

Every error, whether raised by our code or by aiohttp itself (no route, wrong
method, a body over the limit), leaves through `error_middleware` in the one
error shape built by `node.errors.error_body`.
"""

import hmac
import logging
import math
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from node.api.connections import read_body
from node.api.openapi import openapi_document
from node.api.protocol import ChatCompletionRequest
from node.api.service import VERSION, SwarmService
from node.api.sse import stream_completion
from node.errors import BadRequest, HttpError, NotFound, Unauthorized, error_body
from node.serve import PATHS
from reputation.bounded import loads
from reputation.export import stream_export

__all__ = ["SERVICE", "error_middleware", "routes"]

log = logging.getLogger(__name__)
SERVICE = web.AppKey("service", SwarmService)
routes = web.RouteTableDef()


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    service = request.app[SERVICE]
    resource = request.match_info.route.resource
    route = resource.canonical if resource else "unmatched"
    try:
        response: web.StreamResponse = await handler(request)
    except Exception as exc:
        if isinstance(exc, web.HTTPException):
            if exc.status < 400:
                raise
            text = "request body is too large" if exc.status == 413 else exc.text or exc.reason
            exc = HttpError(exc.status, text)
        status, body = error_body(exc)
        retry = getattr(exc, "retry_after", None)  # a 429 (or 403/503) says when to ask again
        if status == 500:  # our own failure: the log gets the traceback, the client does not
            log.error("%s %s failed: %r", request.method, request.path, exc, exc_info=exc)
        elif status > 500:
            log.warning("%s %s: %s", request.method, request.path, exc)
        response = web.json_response(body, status=status)
        if retry:
            response.headers["Retry-After"] = str(math.ceil(retry))
    service.ctx.metrics.http.labels(route, str(response.status)).inc()
    return response


async def _json(request: web.Request) -> Any:
    limit = request.app[SERVICE].ctx.config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await read_body(request, request.app[SERVICE].ctx.config.server.body_timeout)
    return loads(raw, limit)  # size and depth bounded before parsing: `reputation.bounded`


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    body = await _json(request)
    try:
        chat = ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(_validation_message(exc)) from exc
    if not chat.stream:
        return web.json_response((await service.complete(chat)).body())
    slot = service.admit(chat)  # a plain 4xx for bad input, or a 429, before the stream opens
    with slot:
        return await stream_completion(
            request, lambda progress: service.complete(chat, progress, slot)
        )


@routes.get("/v1/models")
async def models(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].models())


@routes.get("/v1/rounds/{round_id}")
async def get_round(request: web.Request) -> web.Response:
    service, round_id = request.app[SERVICE], request.match_info["round_id"]
    stored = await service.round(round_id)
    body = stored.model_dump(mode="json")
    body["commitment"] = await service.commitment(round_id)
    return web.json_response(body)


def _peer_route(path: str) -> None:
    async def handle(request: web.Request) -> web.Response:
        serve = request.app[SERVICE].serve[path]
        return web.json_response(await serve(await _json(request)))

    routes.post(path)(handle)


for _path in PATHS.values():
    _peer_route(_path)


@routes.get("/swarm/v1/info")
async def info(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].info())


@routes.get("/swarm/v1/log/export")
async def log_export(request: web.Request) -> web.StreamResponse:
    """The node's consensus log as JSON lines (`reputation.export`), for an auditor
    holding the configured bearer token; read-only. Streamed from a read-only
    connection on a thread of its own (`stream_export`), a chunk at a time as the
    client takes it: the journal's writer never waits for it. A failure before the
    first chunk is an error reply; one after it ends the body without the export's
    end line (the importer refuses it as cut short) and closes the connection."""
    token = request.app[SERVICE].ctx.config.server.audit_token
    if not token:
        raise NotFound(
            "this node does not export its log (server.audit_token is unset)", "export_off"
        )
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise Unauthorized("a valid audit token is needed to read the log")
    chunks = stream_export(request.app[SERVICE].ctx.journal.path)
    try:
        chunk: bytes | None = await anext(chunks)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        while chunk is not None:
            await response.write(chunk)
            try:
                chunk = await anext(chunks, None)
            except Exception as exc:  # the read failed half way: no end line
                log.error("log export failed part way: %s", exc)
                response.force_close()
                return response
        await response.write_eof()
        return response
    finally:
        await chunks.aclose()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    body = request.app[SERVICE].health()  # 503 until a round can run: "waiting_for" says why
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICE].ctx.metrics.render()
    return web.Response(
        body=body,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type": "text/plain; version=0.0.4"},
    )


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of every route (`node.api.openapi`)."""
    return web.json_response(openapi_document(VERSION))
