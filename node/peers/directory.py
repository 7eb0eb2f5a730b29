"""The nodes a node knows: itself (a local peer) and its remote peers, one interface.

A `Peer` is anything with an `address` and `call(path, message, timeout)`. A
`RemotePeer` calls over HTTP. It is marked unhealthy when it cannot be reached or
answers with a server error (5xx), and the health loop (`watch_health`, which
polls every remote's `/health`) brings it back; the same poll learns which model
each peer serves. The node's own participant is a `LocalPeer` (`node.peers.local`)
reached through the same interface, so a round treats its coordinator like any
other participant.

Who may take part in a round (`pool`): this node and its healthy peers serving the
round's model; a peer whose model is not known yet may answer (it refuses a round
of another model) but is not drawn as a verifier (`known_only`). With the chain on,
the registry's members replace the static (bootstrap) peers (`update_remotes`,
from `node.chain.membership.refresh`), each with the model it registered, and
give each node's weight in a round's draws (`weight`: stake and reputation,
`reputation.rules.draw_weight`; 1 without a chain).
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from node.errors import PeerRefused, PeerUnreachable
from node.peers.clock import PeerClock
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
    model: str | None = None
    """The model the peer serves, from its `/health` (None until known)."""
    seen: bool = False
    """A `/health` probe has found it up (readiness counts only such peers)."""

    async def call(self, path: str, message: dict[str, Any], timeout: float) -> Any:
        try:
            return await self.client.call(self.url, path, message, timeout)
        except PeerUnreachable:
            self.healthy = False  # the health loop brings it back
            raise
        except PeerRefused as exc:
            if exc.peer_status >= 500:  # a considered 4xx refusal is not ill health
                self.healthy = False
            raise


class Directory:
    """This node's local peer and its remote peers."""

    def __init__(self, address: str, client: PeerClient):
        self.address = address
        self.client = client
        self.peer_clock = PeerClock()
        """This node's clock offset to its peers, from their signed `/health` stamps
        (`node.peers.clock`; measured by `refresh`)."""
        self.local: Peer | None = None
        self.remotes: list[RemotePeer] = []
        self.weights: dict[str, float] = {}
        """Draw weights by lower-cased address, from the registry (`set_weights`)."""
        self.staked: set[str] = set()
        """Lower-cased addresses of the registry's staked members, capable or not, as of
        its last read (`set_registry`): who may ask this node to calibrate it."""
        self.capable: set[str] | None = None
        """Lower-cased addresses the registry counted as capable at its last read (this
        node among them when it is); None until the registry is read."""

    def set_weights(self, weights: dict[str, float]) -> None:
        self.weights = {a.lower(): w for a, w in weights.items()}

    def set_registry(self, staked: Sequence[str], capable: Sequence[str]) -> None:
        """Cache who the registry counts as staked and as capable (no RPC per request)."""
        self.staked = {a.lower() for a in staked}
        self.capable = {a.lower() for a in capable}

    def weight(self, address: str) -> float:
        """A node's weight in draws: from the registry, else 1 (no chain, or unknown)."""
        return self.weights.get(address.lower(), 1.0)

    def set_remotes(self, peers: Sequence[tuple[str, str]]) -> None:
        """Replace the remote peers with (address, url) pairs (this node's own is skipped)."""
        self.update_remotes([(a, u, None) for a, u in peers])

    def update_remotes(self, peers: Sequence[tuple[str, str, str | None]]) -> None:
        """Make the remote peers exactly (address, url, model) (model None: not known
        yet), keeping what is known of a peer whose address and url are unchanged."""
        known = {(p.address.lower(), p.url): p for p in self.remotes}
        remotes = []
        for address, url, model in peers:
            if address.lower() == self.address.lower():
                continue
            peer = known.get((address.lower(), url)) or RemotePeer(address, url, self.client)
            peer.model = model or peer.model
            remotes.append(peer)
        added = {p.address for p in remotes} - {p.address for p in self.remotes}
        if added:
            log.info("new peers: %s", ", ".join(sorted(added)))
        self.remotes = remotes

    def get(self, address: str) -> Peer | None:
        if address.lower() == self.address.lower():
            return self.local
        return next((p for p in self.remotes if p.address.lower() == address.lower()), None)

    def pool(self, model: str, known_only: bool = False) -> list[str]:
        """Who may take part in a round of `model` now: this node and its healthy peers
        serving it (or, unless `known_only`, whose model is not known yet)."""
        return [self.address] + [
            p.address
            for p in self.remotes
            if p.healthy and (p.model == model or (p.model is None and not known_only))
        ]

    def ready_peers(self, model: str) -> list[RemotePeer]:
        """The remote peers a round of `model` can count on now: seen up by a probe,
        healthy and serving `model` (readiness: `node.api.service.SwarmService.health`)."""
        return [p for p in self.remotes if p.seen and p.healthy and p.model == model]

    def registered(self) -> set[str]:
        return {self.address} | {p.address for p in self.remotes}

    def note_model(self, address: str, model: str) -> None:
        """Remember that `address` serves `model` (it signed an answer that claims it)."""
        peer = self.get(address)
        if isinstance(peer, RemotePeer):
            peer.model = model

    async def refresh(self) -> None:
        """Poll every remote's `/health` once: whether it is up, its model, and (from
        the signed clock stamp its `/health` carries) this node's clock offset to it
        (`node.peers.clock`)."""
        peers = list(self.remotes)
        clock = self.peer_clock.clock

        async def timed(url: str) -> tuple[float, tuple[bool, str | None, Any], float]:
            sent = clock()
            state = await self.client.probe(url)
            return sent, state, clock()

        states = await asyncio.gather(*(timed(p.url) for p in peers))
        for peer, (sent, state, received) in zip(peers, states, strict=True):
            ok, model, stamp = state
            if ok != peer.healthy:
                log.info("peer %s is %s", peer.address, "back" if ok else "down")
            peer.healthy = ok
            peer.seen = peer.seen or ok
            peer.model = model if ok else peer.model
            if ok and stamp is not None:
                self.peer_clock.observe(peer.address, stamp, sent, received)
        self.peer_clock.keep([p.address for p in self.remotes])
        self.peer_clock.log_change(self.address)

    async def watch_health(self, interval: float) -> None:
        """Refresh every `interval` seconds, forever (the first after one interval, so
        that peers starting at the same time are not marked down before they are up)."""
        while True:
            await asyncio.sleep(interval)
            await self.refresh()
