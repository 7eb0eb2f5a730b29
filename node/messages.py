"""Receiver-side checks on signed peer messages.

`MessageGuard.check` accepts a message only if its signature recovers to its
sender, the sender is registered, its type is the one expected, its timestamp
is within `max_age` seconds of the receiver's clock, and no message of the same
(type, round, sender) was accepted before. A second, *different* message for
the same key is equivocation; its two digests are the evidence. Messages about
one answer among several of a round (`PER_SUBJECT` types: verification requests
and replies) carry the answer's digest as `payload.subject`, which joins the key.
"""

import time
from collections.abc import Callable, Collection
from typing import Any

from node.errors import Equivocation, MessageRejected, ReplayedMessage, StaleMessage, UnknownSender
from reputation.envelope import digest, recover_sender

__all__ = ["PER_SUBJECT", "MessageGuard"]

PER_SUBJECT = frozenset({"verify_request", "verification"})


class MessageGuard:
    def __init__(
        self,
        registered: Callable[[], Collection[str]],
        max_age: float = 120.0,
        clock: Callable[[], float] = time.time,
    ):
        self._registered = registered
        self.max_age = max_age
        self._clock = clock
        self._seen: dict[tuple[str, str | None, str, str | None], tuple[str, float]] = {}

    def check(self, message: Any, expected_type: str, round_id: str | None = None) -> str:
        """Validate `message`; return its digest. Raises a `MessageRejected` subclass."""
        sender = recover_sender(message)
        if message["type"] != expected_type:
            raise MessageRejected(f"expected a '{expected_type}' message, got '{message['type']}'")
        if round_id is not None and message["round_id"] != round_id:
            raise MessageRejected("message belongs to another round")
        if sender.lower() not in {a.lower() for a in self._registered()}:
            raise UnknownSender(f"{sender} is not a registered node")
        now = self._clock()
        if abs(now - float(message["timestamp"])) > self.max_age:
            raise StaleMessage(f"message timestamp is more than {self.max_age:g} s from now")
        self._prune(now)
        subject = message["payload"].get("subject") if message["type"] in PER_SUBJECT else None
        key = (message["type"], message["round_id"], sender.lower(), str(subject))
        this = digest(message)
        if key in self._seen:
            seen, _ = self._seen[key]
            if seen == this:
                raise ReplayedMessage("message already received")
            raise Equivocation("a different message of this type for this round", (seen, this))
        self._seen[key] = (this, now)
        return this

    def _prune(self, now: float) -> None:
        # Past 2·max_age a message is refused as stale anyway; forget it.
        horizon = now - 2 * self.max_age
        for key in [k for k, (_, t) in self._seen.items() if t < horizon]:
            del self._seen[key]
