"""The nodes a node knows: itself (a local peer) and its remote peers, one interface.

A `Peer` is anything with an `address` and `call(path, message, timeout)`. A
`RemotePeer` calls over HTTP and is marked unhealthy when it cannot be reached
(the health loop, `watch_health`, brings it back); the node's own participant
is a `LocalPeer` (`node.peers.local`) reached through the same interface, so a
round treats its coordinator like any other participant. The registry of the
chain replaces the static list later.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from node.errors import PeerUnreachable
from node.peers.transport import PeerClient

__all__ = ["Directory", "Peer", "RemotePeer"]

log = logging.getLogger(__name__)


class Peer(Protocol):
    address: str

    async def call(self, path: str, message: dict[str, Any], timeout: float) -> Any: ...


@dataclass
class RemotePeer:
    address: str
    url: str
    client: PeerClient
    healthy: bool = True

    async def call(self, path: str, message: dict[str, Any], timeout: float) -> Any:
        try:
            return await self.client.call(self.url, path, message, timeout)
        except PeerUnreachable:
            self.healthy = False  # the health loop brings it back
            raise


class Directory:
    """This node's local peer and its remote peers."""

    def __init__(self, address: str, client: PeerClient):
        self.address = address
        self.client = client
        self.local: Peer | None = None
        self.remotes: list[RemotePeer] = []

    def set_remotes(self, peers: Sequence[tuple[str, str]]) -> None:
        """Replace the remote peers with (address, url) pairs (this node's own is skipped)."""
        self.remotes = [
            RemotePeer(a, u, self.client) for a, u in peers if a.lower() != self.address.lower()
        ]

    def get(self, address: str) -> Peer | None:
        if address.lower() == self.address.lower():
            return self.local
        return next((p for p in self.remotes if p.address.lower() == address.lower()), None)

    def pool(self) -> list[str]:
        """Who may take part in a round now: this node and its healthy peers."""
        return [self.address] + [p.address for p in self.remotes if p.healthy]

    def registered(self) -> set[str]:
        return {self.address} | {p.address for p in self.remotes}

    async def watch_health(self, interval: float) -> None:
        """Poll every remote peer's `/health` forever, updating `healthy`."""
        while True:
            await asyncio.sleep(interval)
            peers = list(self.remotes)
            states = await asyncio.gather(*(self.client.is_healthy(p.url) for p in peers))
            for peer, ok in zip(peers, states, strict=True):
                if ok != peer.healthy:
                    log.info("peer %s is %s", peer.address, "back" if ok else "down")
                peer.healthy = ok
