"""Server-sent events for `stream: true`: round progress as SSE comments, then the
completion as OpenAI chunks (role, the text in word pieces, the end with the `swarm`
object), then `data: [DONE]`. An error after the stream has opened goes out as one
`data:` line in the one error shape."""

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from node.api.protocol import ChatCompletion
from node.errors import error_body

__all__ = ["chunks", "stream_completion"]


def chunks(result: ChatCompletion) -> list[dict[str, Any]]:
    """The completion as OpenAI chunks: role, the text in word pieces, then the end."""
    base = {
        "id": result.id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": result.model,
    }

    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    pieces = re.findall(r"\s*\S+\s*", result.text) or [""]
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces]
    last = chunk({}, result.choices[0].finish_reason)
    if result.swarm is not None:
        last["swarm"] = result.swarm.model_dump(mode="json")
    return [*out, last]


async def stream_completion(
    request: web.Request,
    run: Callable[[Callable[[str], Awaitable[None]]], Awaitable[ChatCompletion]],
) -> web.StreamResponse:
    """Open the stream, run the completion with progress going out as comments, and
    send its chunks (or its error)."""
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await stream.prepare(request)

    async def progress(text: str) -> None:
        await stream.write(f": {text}\n\n".encode())

    try:
        result = await run(progress)
    except Exception as exc:
        _, error = error_body(exc)
        await stream.write(f"data: {json.dumps(error)}\n\n".encode())
    else:
        for piece in chunks(result):
            await stream.write(f"data: {json.dumps(piece)}\n\n".encode())
    await stream.write(b"data: [DONE]\n\n")
    await stream.write_eof()
    return stream
