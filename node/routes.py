"""aiohttp handlers: parse, validate, call the service, shape the reply."""

import json
import logging
import re
import time
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from node.errors import BadRequest, error_body
from node.protocol import ChatCompletionRequest
from node.service import SwarmService

__all__ = ["SERVICE", "error_middleware", "routes"]

log = logging.getLogger(__name__)
SERVICE = web.AppKey("service", SwarmService)
routes = web.RouteTableDef()

_STATUS_TYPES = {404: "not_found_error", 405: "invalid_request_error", 413: "invalid_request_error"}


def _error_response(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    service = request.app[SERVICE]
    route = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "unmatched"
    )
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {413: "payload_too_large", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status, "http_error"
        )
        message = exc.text if exc.status != 413 else "request body is too large"
        response = _error_response(
            exc.status,
            {
                "error": {
                    "message": message or exc.reason,
                    "type": _STATUS_TYPES.get(exc.status, "invalid_request_error"),
                    "code": code,
                }
            },
        )
    except Exception as exc:
        status, body = error_body(exc)
        if status >= 500:
            log.exception("%s %s failed", request.method, request.path)
        response = _error_response(status, body)
    service.ctx.metrics.http.labels(route, str(response.status)).inc()
    return response


async def _json(request: web.Request) -> Any:
    limit = request.app[SERVICE].ctx.config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc


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
        return web.json_response(await service.complete(chat))
    service.check(chat)  # refuse bad input with a plain 4xx before the stream opens
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await stream.prepare(request)

    async def progress(text: str) -> None:
        await stream.write(f": {text}\n\n".encode())

    try:
        result = await service.complete(chat, progress)
    except Exception as exc:
        _, error = error_body(exc)
        await stream.write(f"data: {json.dumps(error)}\n\n".encode())
    else:
        for chunk in _chunks(result):
            await stream.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await stream.write(b"data: [DONE]\n\n")
    await stream.write_eof()
    return stream


def _chunks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The completion as OpenAI chunks: role, the text in word pieces, then the end."""
    base = {
        "id": result["id"],
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": result["model"],
    }
    choice = result["choices"][0]
    pieces = re.findall(r"\s*\S+\s*", choice["message"]["content"]) or [""]
    chunks = [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        }
    ]
    chunks += [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in pieces
    ]
    last: dict[str, Any] = {
        **base,
        "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
    }
    if "swarm" in result:
        last["swarm"] = result["swarm"]
    return [*chunks, last]


@routes.get("/v1/models")
async def models(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].models())


@routes.get("/v1/rounds/{round_id}")
async def get_round(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].round(request.match_info["round_id"]))


@routes.post("/swarm/v1/answer")
async def peer_answer(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].answer(await _json(request)))


@routes.post("/swarm/v1/judge")
async def peer_judge(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].judge(await _json(request)))


@routes.post("/swarm/v1/verify")
async def peer_verify(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].verify(await _json(request)))


@routes.get("/swarm/v1/info")
async def info(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].info())


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].health())


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICE].ctx.metrics.render()
    return web.Response(
        body=body,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type": "text/plain; version=0.0.4"},
    )
