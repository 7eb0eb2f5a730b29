"""HTTP to peers: capped concurrency, explicit timeouts, failures sorted by kind.

`call` returns the peer's JSON reply or raises one of the `PeerFailure` kinds
(`node.errors`): `PeerUnreachable` when the peer cannot be reached or does not
answer within the timeout, `PeerRefused` when it answers with an error (its
body in the one error shape, read back by `refusal_from`), `BadReply` when it
answers 200 with something that is not JSON.
"""

import asyncio
from typing import Any

import aiohttp

from node.errors import BadReply, PeerUnreachable, refusal_from

__all__ = ["PeerClient"]


class PeerClient:
    def __init__(self, session: aiohttp.ClientSession, concurrency: int):
        self._session = session
        self._gate = asyncio.Semaphore(concurrency)

    @classmethod
    async def create(cls, concurrency: int = 16) -> "PeerClient":
        return cls(aiohttp.ClientSession(), concurrency)

    async def call(self, url: str, path: str, message: dict[str, Any], timeout: float) -> Any:
        async with self._gate:
            try:
                async with self._session.post(
                    url.rstrip("/") + path,
                    json=message,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as resp:
                    try:
                        body = await resp.json(content_type=None)
                    except ValueError as exc:
                        if resp.status == 200:
                            raise BadReply(f"reply is not JSON: {exc}") from exc
                        body = None
                    if resp.status != 200:
                        raise refusal_from(resp.status, body)
                    return body
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise PeerUnreachable(f"{type(exc).__name__}: {exc}") from exc

    async def probe(self, url: str, timeout: float = 3.0) -> tuple[bool, str | None]:
        """A peer's `/health`: whether it answers 200, and the model it says it serves."""
        try:
            async with self._session.get(
                url.rstrip("/") + "/health", timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                if resp.status != 200:
                    return False, None
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False, None
        model = body.get("model") if isinstance(body, dict) else None
        return True, model if isinstance(model, str) else None

    async def close(self) -> None:
        await self._session.close()
