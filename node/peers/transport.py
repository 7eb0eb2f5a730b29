"""HTTP to peers: capped concurrency, explicit timeouts, failures sorted by kind.

`call` returns the peer's JSON reply or raises one of the `PeerFailure` kinds
(`node.errors`): `PeerUnreachable` when the peer cannot be reached or does not
answer within the timeout, `PeerRefused` when it answers with an error (its
body in the one error shape, read back by `refusal_from`), `BadReply` when it
answers 200 with something that is not JSON, or more than `max_reply_bytes`, or
nested deeper than `reputation.bounded.MAX_DEPTH`.

Every reply is read by `read_json`: in chunks, up to the limit (a peer cannot make
this node hold a body larger than the limit), then parsed by the bounded reader
(`reputation.bounded`: a nested body cannot crash the parser). A `/health` body
is read up to `PROBE_BYTES`.
"""

import asyncio
from typing import Any

import aiohttp

from node.errors import BadReply, PeerUnreachable, refusal_from
from reputation.bounded import JsonRefused, JsonTooLarge, loads

__all__ = ["MAX_REPLY_BYTES", "PROBE_BYTES", "PeerClient", "read_json"]

MAX_REPLY_BYTES = 1_000_000
"""The largest reply a peer may send (as large as the largest request a node accepts)."""
PROBE_BYTES = 65_536
"""The largest `/health` body read."""


async def read_json(response: aiohttp.ClientResponse, limit: int) -> Any:
    """The response's JSON body, read up to `limit` bytes (`JsonRefused` kinds otherwise)."""
    if response.content_length is not None and response.content_length > limit:
        raise JsonTooLarge(f"a body of {response.content_length} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise JsonTooLarge(f"a body of more than {limit} bytes")
        chunks.append(chunk)
    return loads(b"".join(chunks), limit)


class PeerClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        concurrency: int,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ):
        self._session = session
        self._gate = asyncio.Semaphore(concurrency)
        self.max_reply_bytes = max_reply_bytes

    @classmethod
    async def create(
        cls, concurrency: int = 16, max_reply_bytes: int = MAX_REPLY_BYTES
    ) -> "PeerClient":
        return cls(aiohttp.ClientSession(), concurrency, max_reply_bytes)

    async def call(self, url: str, path: str, message: dict[str, Any], timeout: float) -> Any:
        async with self._gate:
            try:
                async with self._session.post(
                    url.rstrip("/") + path,
                    json=message,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as resp:
                    try:
                        body = await read_json(resp, self.max_reply_bytes)
                    except JsonRefused as exc:
                        if resp.status == 200:
                            raise BadReply(f"reply refused: {exc}") from exc
                        body = None
                    if resp.status != 200:
                        raise refusal_from(resp.status, body)
                    return body
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise PeerUnreachable(f"{type(exc).__name__}: {exc}") from exc

    async def probe(self, url: str, timeout: float = 3.0) -> tuple[bool, str | None, Any]:
        """A peer's `/health`: whether it is up, and the model it says it serves. Up: 200,
        or 503 with `"status": "starting"` (a node still gathering peers for its own
        rounds serves as a participant; counting it down would keep every node of a
        starting swarm waiting for the others)."""
        try:
            async with self._session.get(
                url.rstrip("/") + "/health", timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                if resp.status not in (200, 503):
                    return False, None, None
                body = await read_json(resp, PROBE_BYTES)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False, None, None
        if resp.status == 503 and not (isinstance(body, dict) and body.get("status") == "starting"):
            return False, None, None
        body = body if isinstance(body, dict) else {}
        model, clock = body.get("model"), body.get("clock")
        stamp = clock.get("stamp") if isinstance(clock, dict) else None
        return True, model if isinstance(model, str) else None, stamp

    async def close(self) -> None:
        await self._session.close()
