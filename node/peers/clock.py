"""This node's clock as its peers see it: offsets measured from their signed timestamps.

Peers refuse a signed message whose timestamp is more than `round.message_max_age`
seconds from their own clock (`node.guard`), so a node whose clock drifts past it is
refused by everyone without being told. It learns it from its peers instead: every
node's `/health` carries a `clock.stamp`, a signed message of type `clock` (empty
payload, `round_id` null; no route takes that type, so it cannot stand for any
other message), and the health loop (`Directory.refresh`) reads each peer's stamp.
The offset to a peer is its stamp's time minus the midpoint of the probe's
send and receive times on this node's clock (a probe slower than `MAX_RTT`
seconds says too little and is skipped); the latest sample per peer is kept, for
the current peers only.

What `/health` reports (`PeerClock.report`): the median offset over the peers
(robust to a minority of peers with wrong clocks or lying stamps: each is one
vote, and a stamp counts only if it is signed by the peer probed), the count,
each peer's offset, and a warning once the median is past half of
`message_max_age` (peers will soon refuse this node's messages, or already do
past the whole of it). With two peers the median is their mean: one of three
clocks being wrong cannot be told from the other two disagreeing, so the
per-peer offsets are shown too. The first measurement and every change of the
warning are logged (a node learns its skew within one health interval of its
start).

A stamp is signed at most once per `STAMP_EVERY` seconds (an anonymous `/health`
poller makes the node sign nothing more often); its time is then up to that old,
well within the minutes that matter here.
"""

import logging
import statistics
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from reputation.envelope import EnvelopeError, recover_sender, sign_envelope

__all__ = ["BY_PEER", "MAX_RTT", "STAMP_EVERY", "STAMP_TYPE", "PeerClock", "read_stamp"]

log = logging.getLogger(__name__)

STAMP_TYPE = "clock"
STAMP_EVERY = 1.0
MAX_RTT = 2.0
BY_PEER = 32


def read_stamp(stamp: Any, address: str) -> float | None:
    """The time on `stamp` if it is a `clock` message signed by `address`, else None."""
    if not isinstance(stamp, dict):
        return None
    try:
        sender = recover_sender(stamp)
    except EnvelopeError:
        return None
    if stamp["type"] != STAMP_TYPE or sender.lower() != address.lower():
        return None
    return float(stamp["timestamp"])


@dataclass
class PeerClock:
    clock: Callable[[], float] = time.time
    """This node's clock (`NodeContext.clock` when the node is given one)."""
    max_age: float = 120.0
    """`round.message_max_age`: how far off peers accept a message's timestamp."""
    offsets: dict[str, float] = field(default_factory=dict)
    """Peer's clock minus this node's, in seconds, by lower-cased address."""
    _stamp: dict[str, Any] | None = None
    _warned: bool | None = None

    def stamp(self, account: Any) -> dict[str, Any]:
        """This node's signed `clock` stamp (signed anew at most every `STAMP_EVERY` s)."""
        now = self.clock()
        if self._stamp is None or not 0 <= now - self._stamp["timestamp"] < STAMP_EVERY:
            self._stamp = sign_envelope(account, STAMP_TYPE, None, {}, timestamp=now)
        return self._stamp

    def observe(self, address: str, stamp: Any, sent: float, received: float) -> None:
        """Note a peer's stamp read by a request sent at `sent` and answered at
        `received` (this node's clock); a stamp not signed by `address` is ignored."""
        peer_time = read_stamp(stamp, address)
        if peer_time is None or not 0 <= received - sent <= MAX_RTT:
            return
        self.offsets[address.lower()] = peer_time - (sent + received) / 2

    def keep(self, addresses: Collection[str]) -> None:
        """Forget the offsets of nodes that are no longer peers."""
        kept = {a.lower() for a in addresses}
        self.offsets = {a: o for a, o in self.offsets.items() if a in kept}

    def median(self) -> float | None:
        return statistics.median(self.offsets.values()) if self.offsets else None

    def report(self) -> dict[str, Any]:
        """The `clock` field of `/health` (without the stamp)."""
        offset, max_age = self.median(), self.max_age
        return {
            "offset": None if offset is None else round(offset, 3),
            "peers": len(self.offsets),
            "by_peer": self._furthest(offset),
            "max_age": max_age,
            "warning": warning(offset, max_age, len(self.offsets)),
        }

    def _furthest(self, median: float | None) -> dict[str, float]:
        """Each peer's offset, the `BY_PEER` furthest from the median if there are more
        (so that `/health` stays small however large the swarm)."""
        ranked = sorted(self.offsets.items(), key=lambda item: -abs(item[1] - (median or 0.0)))
        return {a: round(o, 3) for a, o in sorted(ranked[:BY_PEER])}

    def log_change(self, address: str) -> None:
        """Log the first measurement, and the warning each time it appears or clears."""
        offset, max_age = self.median(), self.max_age
        if offset is None:
            return
        text = warning(offset, max_age, len(self.offsets))
        if self._warned is None or self._warned != bool(text):
            if text:
                log.warning("node %s: %s", address, text)
            else:
                log.info(
                    "node %s: clock within %.1f s of %d peer(s) (median offset %+.3f s)",
                    address,
                    abs(offset),
                    len(self.offsets),
                    offset,
                )
        self._warned = bool(text)


def warning(offset: float | None, max_age: float, peers: int) -> str | None:
    """What an operator must know about an offset (None: nothing)."""
    if offset is None or abs(offset) <= max_age / 2:
        return None
    side = "ahead of" if offset < 0 else "behind"
    now = "refuse its messages now" if abs(offset) > max_age else "will refuse its messages"
    return (
        f"this node's clock is {abs(offset):.1f} s {side} its peers' (median of {peers}); "
        f"peers {now} once it is more than {max_age:g} s off (round.message_max_age): "
        "fix the clock (NTP)"
    )
