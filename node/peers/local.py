"""The node's own participant as a peer: the same interface and failure kinds as HTTP.

A call runs the participant's handler (`node.serve.HANDLERS`) in process with
the same timeout a remote call has. Its errors become what an HTTP caller would
see: the handler's exception is turned into the one error shape
(`error_body`) and read back (`refusal_from`), so a local refusal of a claim is
a `PeerRefused` about the claim, exactly as a remote one is; a timeout is
`PeerUnreachable`.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from node.errors import PeerUnreachable, error_body, refusal_from

__all__ = ["LocalPeer"]

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[dict[str, Any]]]


class LocalPeer:
    def __init__(self, address: str, handlers: Mapping[str, Handler]):
        self.address = address
        self._handlers = handlers

    async def call(self, path: str, message: dict[str, Any], timeout: float) -> Any:
        handler = self._handlers[path]
        try:
            return await asyncio.wait_for(handler(message), timeout)
        except TimeoutError as exc:
            raise PeerUnreachable(f"no reply within {timeout:g} s") from exc
        except Exception as exc:
            status, body = error_body(exc)
            if status >= 500:
                log.error("local %s failed: %r", path, exc, exc_info=exc)
            raise refusal_from(status, body) from exc
