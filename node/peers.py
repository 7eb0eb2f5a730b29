"""HTTP client to peers: capped concurrency, explicit timeouts, failures as `PeerFailure`."""

import asyncio
from typing import Any

import aiohttp

from ranking.errors import SwarmError

__all__ = ["PeerClient", "PeerFailure"]


class PeerFailure(SwarmError):
    """A peer did not answer usefully (down, timed out, refused, or garbled)."""


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
                    body = await resp.json(content_type=None)
                    if resp.status != 200:
                        error = body.get("error", {}) if isinstance(body, dict) else {}
                        raise PeerFailure(f"HTTP {resp.status}: {error.get('message', body)}")
                    return body
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise PeerFailure(f"{type(exc).__name__}: {exc}") from exc

    async def is_healthy(self, url: str, timeout: float = 3.0) -> bool:
        try:
            async with self._session.get(
                url.rstrip("/") + "/health", timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def close(self) -> None:
        await self._session.close()
