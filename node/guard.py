"""Receiver-side checks on signed peer messages.

`MessageGuard.check` accepts a message only if its signature recovers to its
sender, the sender is registered, its type is the one expected, its timestamp
is within `max_age` seconds of the receiver's clock, and no message under the
same key (type, round, sender, and for per-answer types the answer's digest:
`reputation.evidence.message_key`) was accepted before. The same message again
is a replay (409). A second, *different* message under the key is equivocation:
the guard hands both signed messages to `on_equivocation` (the node stores them
in its log as evidence) and refuses the second (409 `equivocation`).

Accepted messages are remembered for 2·`max_age` seconds: past that they would
be refused as stale anyway.
"""

import time
from collections.abc import Callable, Collection
from typing import Any

from node.errors import Equivocation, MessageRejected, ReplayedMessage, StaleMessage, UnknownSender
from reputation.envelope import digest, recover_sender
from reputation.evidence import Key, message_key

__all__ = ["EvidenceSink", "MessageGuard"]

EvidenceSink = Callable[[dict[str, Any], dict[str, Any]], object]


class MessageGuard:
    def __init__(
        self,
        registered: Callable[[], Collection[str]],
        max_age: float = 120.0,
        clock: Callable[[], float] = time.time,
        on_equivocation: EvidenceSink = lambda first, second: None,
    ):
        self._registered = registered
        self.max_age = max_age
        self._clock = clock
        self._on_equivocation = on_equivocation
        self._seen: dict[Key, tuple[str, dict[str, Any], float]] = {}

    def check(
        self,
        message: Any,
        expected_type: str,
        round_id: str | None = None,
        once: bool = True,
        members_only: bool = True,
    ) -> str:
        """Validate `message`; return its digest. Raises a `MessageRejected` subclass
        (or `InvalidSignature`/`EnvelopeError` for a malformed or forged message).
        `once=False` skips the replay and equivocation memory, for requests that
        are harmless to serve twice (a settlement co-signed again is the same
        signature). `members_only=False` accepts any sender (a node asking to be
        calibrated is not a member yet)."""
        sender = recover_sender(message)
        if message["type"] != expected_type:
            raise MessageRejected(f"expected a '{expected_type}' message, got '{message['type']}'")
        if round_id is not None and message["round_id"] != round_id:
            raise MessageRejected("message belongs to another round")
        if members_only and sender.lower() not in {a.lower() for a in self._registered()}:
            raise UnknownSender(f"{sender} is not a registered node")
        now = self._clock()
        if abs(now - float(message["timestamp"])) > self.max_age:
            raise StaleMessage(f"message timestamp is more than {self.max_age:g} s from now")
        if not once:
            return digest(message)
        self._prune(now)
        key = message_key(message, sender)
        this = digest(message)
        if key in self._seen:
            seen, first, _ = self._seen[key]
            if seen == this:
                raise ReplayedMessage("message already received")
            self._on_equivocation(first, message)
            raise Equivocation("a different message of this type for this round", first, message)
        self._seen[key] = (this, message, now)
        return this

    @property
    def remembered(self) -> int:
        """How many accepted messages the guard still holds."""
        return len(self._seen)

    def _prune(self, now: float) -> None:
        horizon = now - 2 * self.max_age
        for key in [k for k, (_, _, t) in self._seen.items() if t < horizon]:
            del self._seen[key]
