"""A small client for `swarm query`: plain or streamed chat completions."""

from collections.abc import Callable
from typing import Any

import aiohttp

from node.errors import BackendError
from node.peers.transport import MAX_REPLY_BYTES, read_json
from reputation.bounded import JsonRefused, loads

__all__ = ["ask"]


async def ask(
    url: str,
    body: dict[str, Any],
    on_progress: Callable[[str], Any],
    on_text: Callable[[str], Any],
    timeout: float = 900.0,
) -> dict[str, Any]:
    """POST a chat completion; for a stream, report progress and text as they come and
    return the final chunk's fields merged into one completion-like object."""
    endpoint = url.rstrip("/") + "/v1/chat/completions"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s,
            s.post(endpoint, json=body) as resp,
        ):
            if resp.status != 200:
                data = await read_json(resp, MAX_REPLY_BYTES)
                error = data.get("error") if isinstance(data, dict) else None
                message = error.get("message") if isinstance(error, dict) else data
                raise BackendError(f"HTTP {resp.status}: {message}")
            if not body.get("stream"):
                out = await read_json(resp, MAX_REPLY_BYTES)
                if not isinstance(out, dict):
                    raise BackendError("the reply is not a JSON object")
                return out
            text, last = "", {}
            async for raw in resp.content:
                line = raw.decode().strip()
                if line.startswith(":"):
                    on_progress(line[1:].strip())
                elif line.startswith("data: ") and line != "data: [DONE]":
                    chunk = loads(line[6:], MAX_REPLY_BYTES)
                    if "error" in chunk:
                        raise BackendError(chunk["error"]["message"])
                    piece = chunk["choices"][0]["delta"].get("content") or ""
                    text += piece
                    on_text(piece)
                    last = chunk
            return {**last, "choices": [{"message": {"content": text}}]}
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BackendError(f"cannot reach {endpoint}: {exc}") from exc
    except JsonRefused as exc:
        raise BackendError(f"{endpoint} replied with what is not readable JSON: {exc}") from exc
