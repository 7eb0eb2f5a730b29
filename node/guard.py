"""Receiver-side checks on signed peer messages.

`MessageGuard.check` accepts a message only if its signature recovers to its
sender, the sender is registered, its type is the one expected, its timestamp
is within `max_age` seconds of the receiver's clock, and no message under the
same key (type, round, sender, and for per-answer types the answer's digest:
`reputation.evidence.message_key`) was accepted before. The same message again
is a replay (409). A second, *different* message under the key is equivocation:
the guard hands the first one's digest and the second signed message to
`on_equivocation` (the node finds the first in its log and stores the pair as
evidence: `reputation.log.RecordEvidence`) and refuses the second (409
`equivocation`).

What the guard keeps, and when (so that no sender can make it hold much):

- digests, not messages: one (key, digest, time) per accepted message;
- only once the receiver has done its own cheap checks: a handler calls
  `check(..., remember=False)` first and `remember` just before it logs the
  message and starts any engine work, so a message the handler refuses (not a
  participant, a prompt over the limit, an unknown round) costs no memory and
  cannot block the genuine one;
- at most `per_sender` messages per sender within the window; past that the
  sender's messages are refused with 429 (`SenderOverBudget`) until old ones
  expire. Only registered members are remembered (`members_only=False` callers
  use `once=False`), so memory is bounded by members × `per_sender`;
- for 2·`max_age` seconds: past that they would be refused as stale anyway.
"""

import time
from collections import Counter, deque
from collections.abc import Callable, Collection
from typing import Any

from node.errors import (
    Equivocation,
    MessageRejected,
    ReplayedMessage,
    SenderOverBudget,
    StaleMessage,
    UnknownSender,
)
from reputation.envelope import digest, recover_sender
from reputation.evidence import Key, message_key

__all__ = ["PER_SENDER", "EvidenceSink", "MessageGuard"]

EvidenceSink = Callable[[str, dict[str, Any]], object]
"""Called with the first message's digest and the second, different, signed message."""
PER_SENDER = 4096
"""Messages remembered per sender within 2·max_age: a coordinator running a round a
second with eight participants sends about 2,000 in the default 240 s."""


class MessageGuard:
    def __init__(
        self,
        registered: Callable[[], Collection[str]],
        max_age: float = 120.0,
        clock: Callable[[], float] = time.time,
        on_equivocation: EvidenceSink = lambda first, second: None,
        per_sender: int = PER_SENDER,
    ):
        self._registered = registered
        self.max_age = max_age
        self.per_sender = per_sender
        self._clock = clock
        self._on_equivocation = on_equivocation
        self._seen: dict[Key, str] = {}
        self._order: deque[tuple[float, Key]] = deque()
        self._counts: Counter[str] = Counter()

    def check(
        self,
        message: Any,
        expected_type: str,
        round_id: str | None = None,
        once: bool = True,
        members_only: bool = True,
        remember: bool = True,
    ) -> str:
        """Validate `message`; return its digest. Raises a `MessageRejected` subclass
        (or `InvalidSignature`/`EnvelopeError` for a malformed or forged message).
        `once=False` skips the replay and equivocation memory, for requests that
        are harmless to serve twice (a settlement co-signed again is the same
        signature). `members_only=False` accepts any sender (a node asking to be
        calibrated is not a member yet). `remember=False` checks for a replay but
        keeps nothing: the caller calls `remember` once its own checks pass."""
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
        this = digest(message)
        if not once:
            return this
        self._prune(now)
        key = message_key(message, sender)
        self._refuse_repeat(key, this, message)
        self._refuse_over_budget(key[2], sender)
        if remember:
            self._keep(key, this, now)
        return this

    def remember(self, message: dict[str, Any]) -> None:
        """Keep a message that `check(..., remember=False)` accepted, once the caller's
        own checks passed. The replay check runs again: another copy may have been
        remembered in between (no await separates this check from the keeping)."""
        sender = recover_sender(message)
        key, this, now = message_key(message, sender), digest(message), self._clock()
        self._prune(now)
        self._refuse_repeat(key, this, message)
        self._refuse_over_budget(key[2], sender)  # concurrent requests passed `check` too
        self._keep(key, this, now)

    @property
    def remembered(self) -> int:
        """How many accepted messages the guard still holds."""
        return len(self._seen)

    def _refuse_repeat(self, key: Key, this: str, message: dict[str, Any]) -> None:
        seen = self._seen.get(key)
        if seen is None:
            return
        if seen == this:
            raise ReplayedMessage("message already received")
        self._on_equivocation(seen, message)
        raise Equivocation("a different message of this type for this round", seen, message)

    def _refuse_over_budget(self, lowered: str, sender: str) -> None:
        if self._counts[lowered] >= self.per_sender:
            raise SenderOverBudget(
                f"{sender} sent more than {self.per_sender} messages in {2 * self.max_age:g} s"
            )

    def _keep(self, key: Key, this: str, now: float) -> None:
        self._seen[key] = this
        self._order.append((now, key))
        self._counts[key[2]] += 1

    def _prune(self, now: float) -> None:
        horizon = now - 2 * self.max_age
        while self._order and self._order[0][0] < horizon:
            _, key = self._order.popleft()
            if self._seen.pop(key, None) is not None:
                self._counts[key[2]] -= 1
                if not self._counts[key[2]]:
                    del self._counts[key[2]]
