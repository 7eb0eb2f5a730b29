"""Ask several nodes at once, check each reply, and sort out the ones that failed.

The one fan-out of a round, used by answering, judging and verifying. Each
request goes to its node through the `Directory` (the node itself is a local
peer), all at once, each with its own timeout. Every reply is checked by the
phase's `read(address, reply)`, which returns the typed value or raises. The
outcome keeps three kinds apart:

- `replies`: nodes whose replies passed `read`;
- `refused`: nodes that answered with an error (`PeerRefused`); a refusal whose
  `about_claim` is true is about what they were sent (verification counts it as
  a failed vote), any other is about the request;
- `absent`: nodes that could not be reached, timed out, are unknown, or replied
  with something that fails the checks (`PeerUnreachable`, `BadReply`).
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from node.errors import BadReply, PeerFailure, PeerRefused, PeerUnreachable
from node.peers.directory import Directory
from swarm_errors import SwarmError

__all__ = ["Gathered", "fan_out"]

T = TypeVar("T")
Read = Callable[[str, Any], T]


@dataclass
class Gathered(Generic[T]):
    asked: list[str] = field(default_factory=list)
    replies: dict[str, T] = field(default_factory=dict)
    refused: dict[str, PeerRefused] = field(default_factory=dict)
    absent: dict[str, PeerFailure] = field(default_factory=dict)

    def failures(self) -> dict[str, PeerFailure]:
        """Every node that did not give a usable reply, with why, in the order asked."""
        failed = {**self.refused, **self.absent}
        return {a: failed[a] for a in self.asked if a in failed}


async def fan_out(
    peers: Directory,
    path: str,
    requests: Mapping[str, dict[str, Any]],
    timeout: float,
    read: Read[T],
) -> Gathered[T]:
    """Send `requests[address]` to each address at once; check replies with `read`."""
    addresses = list(requests)
    outcomes = await asyncio.gather(
        *(_ask(peers, a, path, requests[a], timeout, read) for a in addresses),
        return_exceptions=True,
    )
    gathered: Gathered[T] = Gathered(asked=addresses)
    for address, outcome in zip(addresses, outcomes, strict=True):
        if isinstance(outcome, PeerRefused):
            gathered.refused[address] = outcome
        elif isinstance(outcome, PeerFailure):
            gathered.absent[address] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome  # a bug or a cancellation, not a peer's failure
        else:
            gathered.replies[address] = outcome
    return gathered


async def _ask(
    peers: Directory,
    address: str,
    path: str,
    message: dict[str, Any],
    timeout: float,
    read: Read[T],
) -> T:
    peer = peers.get(address)
    if peer is None:
        raise PeerUnreachable("not a known peer")
    reply = await peer.call(path, message, timeout)
    try:
        return read(address, reply)
    except PeerFailure:
        raise
    except (SwarmError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise BadReply(f"{type(exc).__name__}: {exc}") from exc
