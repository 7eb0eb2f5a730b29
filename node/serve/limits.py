"""Admission control: how much work a node takes on at once, refused at once beyond it.

Every limit here is acquire-or-refuse: a request over a limit gets `TooManyRequests`
(429 with `Retry-After`) immediately; nothing waits in a queue, so a saturated node
answers its refusals in milliseconds and the requests it admitted keep their latency.

- `InFlight`: a counter of work in flight (client rounds, plain generations) with a
  limit; `acquire` returns a `Slot` that gives the place back when it closes.
- `AdaptiveInFlight`: the default for client rounds and plain generations: a limit
  that follows the admitted requests' latency, between 1 and `derived_in_flight`.
- `derived_in_flight`: the ceiling, from the engine speed measured at start.
  One answer costs this engine `t` = a typical prompt's prefill plus `max_tokens`
  tokens of generation; the answer timeout (`node.round.timeouts.answer_timeout`
  for one participant) is `T`. A round admitted beyond `T / t` rounds would wait
  behind the others' answers past its own answer timeout, so that many are
  admitted (at least 1, at most `MAX_DERIVED`; with a scaled timeout, `floor +
  margin·t`, that is `margin + floor/t`: at least `round.timeout_margin`, more on a
  fast engine). Beyond it the client is told to come back after one answer's time
  (`retry_seconds`). A round costs this engine more
  than one answer (judging, verifying) and a batching engine does better than one
  answer after another; the two roughly cancel, and the operator can set the
  figure (`round.max_rounds_in_flight`).
- `SenderBudgets`: per sender and peer route, a cap on requests in flight and a
  token bucket (`round.peer_in_flight`, `round.peer_rate`, `round.peer_burst`).
  Keys are the *recovered* signer (a forged sender spends nobody's budget), and
  only registered members get a budget of their own; every other signer shares one
  budget per route, so the table is bounded by the registry's size, whatever keys
  an attacker makes up. The node's own requests to itself (its local peer) are
  bounded by its rounds in flight instead, and are not charged.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from node.config import NodeConfig
from node.errors import TooManyRequests
from node.inference.speed import Speed

__all__ = [
    "MAX_DERIVED",
    "OTHERS",
    "TYPICAL_PROMPT_CHARS",
    "AdaptiveInFlight",
    "InFlight",
    "SenderBudgets",
    "Slot",
    "TokenBucket",
    "derived_in_flight",
    "retry_seconds",
]

MAX_DERIVED = 64
"""The derived limit's ceiling (a fast GPU engine would otherwise derive hundreds)."""
TYPICAL_PROMPT_CHARS = 1000
"""The prompt a derived limit is priced with (a few paragraphs)."""
START_LIMIT = 2
"""Where an adaptive limit starts (`AdaptiveInFlight`)."""
SLOW_FACTOR = 2.0
"""A request slower than this many times the fastest seen means the engine is past
saturation: the limit is cut."""
DECREASE = 0.75
"""The cut."""
BASELINE_DRIFT = 1.02
"""How much the fastest time seen is allowed to grow per request."""
OTHERS = "*"
"""The one budget key shared by every signer that is not a registered member."""


def _answer_seconds(config: NodeConfig, speed: Speed) -> float:
    return (
        TYPICAL_PROMPT_CHARS * speed.seconds_per_char
        + config.sampling.max_tokens * speed.seconds_per_token
    )


def derived_in_flight(config: NodeConfig, speed: Speed) -> int:
    """The rounds (or plain generations) this engine can finish within one answer
    timeout, one answer each, in `[1, MAX_DERIVED]`."""
    from node.round.timeouts import answer_timeout  # node.round imports node.serve

    one = _answer_seconds(config, speed)
    within = answer_timeout(
        config, speed, TYPICAL_PROMPT_CHARS, config.sampling.max_tokens, participants=1
    )
    if one <= 0:
        return MAX_DERIVED
    return max(1, min(MAX_DERIVED, math.floor(within / one)))


def retry_seconds(config: NodeConfig, speed: Speed) -> float:
    """What a refused client is told to wait: one answer's time on this engine (≥ 1 s)."""
    return max(1.0, math.ceil(_answer_seconds(config, speed)))


class Slot:
    """One admitted request's place; closing it (or leaving its `with`) gives it back,
    once."""

    def __init__(self, give_back: Callable[[], None]):
        self._give_back: Callable[[], None] | None = give_back

    def release(self) -> None:
        if self._give_back is not None:
            self._give_back()
            self._give_back = None

    def __enter__(self) -> "Slot":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class InFlight:
    """At most `limit` things at once; `acquire` refuses the next at once."""

    def __init__(
        self,
        what: str,
        limit: int,
        retry_after: float,
        on_change: Callable[[int], object] = lambda count: None,
    ):
        self.what = what
        self.limit = limit
        self.retry_after = retry_after
        self.count = 0
        self._on_change = on_change

    def acquire(self) -> Slot:
        if self.count >= self.limit:
            raise TooManyRequests(
                f"this node has {self.count} {self.what} in flight, its limit; "
                f"try again in {self.retry_after:g} s",
                self.retry_after,
            )
        self.count += 1
        self._on_change(self.count)
        return Slot(self._release)

    def _release(self) -> None:
        self.count -= 1
        self._on_change(self.count)

    def as_dict(self) -> dict[str, int]:
        return {"in_flight": self.count, "limit": self.limit}


class AdaptiveInFlight(InFlight):
    """An `InFlight` whose limit follows the latency of what it admitted (AIMD, as TCP
    Vegas does with round trips): it starts at `START_LIMIT`, grows by one after
    `limit` requests in a row finished within `SLOW_FACTOR` times the fastest one
    seen, and is cut to `DECREASE` of itself (at least 1) by one that took longer; it
    never exceeds `ceiling` (`derived_in_flight`). The fastest time seen drifts up by
    `BASELINE_DRIFT` a request, so that a baseline of a lighter workload fades.

    Why: a limit from the timeout alone (`derived_in_flight`) lets as many requests
    in as can finish before timing out, which on a batching engine that is already
    saturated only makes each of them slower (measured: 33 rounds admitted, a p50 of
    50 s where one round alone takes 2.4 s). Past the point where the engine's
    throughput stops growing, another admitted request adds only waiting; the
    latency says where that point is, on any engine."""

    def __init__(
        self,
        what: str,
        ceiling: int,
        retry_after: float,
        on_change: Callable[[int], object] = lambda count: None,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(what, min(START_LIMIT, ceiling), retry_after, on_change)
        self.ceiling = ceiling
        self.fastest = math.inf
        self._streak = 0
        self._clock = clock

    def acquire(self) -> Slot:
        slot = super().acquire()
        started = self._clock()
        release = slot._give_back
        assert release is not None

        def give_back() -> None:
            release()
            self.finished(self._clock() - started)

        slot._give_back = give_back
        return slot

    def finished(self, seconds: float) -> None:
        """Adapt the limit to one admitted request's time."""
        self.fastest = min(seconds, self.fastest * BASELINE_DRIFT)
        if seconds <= SLOW_FACTOR * self.fastest:
            self._streak += 1
            if self._streak >= self.limit:
                self.limit, self._streak = min(self.ceiling, self.limit + 1), 0
        else:
            self.limit, self._streak = max(1, math.floor(self.limit * DECREASE)), 0


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; `take` spends one or says how long until
    one is there."""

    rate: float
    burst: int
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> float:
        """0 when a token was spent; else the seconds until one is available."""
        if self.tokens < 0:
            self.tokens, self.stamp = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class _Budget:
    bucket: TokenBucket
    in_flight: int = 0


@dataclass
class SenderBudgets:
    """Per (route, sender) budgets; `take` returns the `Slot` of an admitted request."""

    in_flight: int
    rate: float
    burst: int
    members: Callable[[], set[str]]
    """Lower-cased addresses that get a budget of their own."""
    clock: Callable[[], float] = time.monotonic
    on_refusal: Callable[[str], object] = lambda route: None
    _budgets: dict[tuple[str, str], _Budget] = field(default_factory=dict)

    @classmethod
    def of(cls, config: NodeConfig, members: Callable[[], set[str]], **kw: Any) -> "SenderBudgets":
        r = config.round
        return cls(r.peer_in_flight, r.peer_rate, r.peer_burst, members, **kw)

    def take(self, route: str, sender: str) -> Slot:
        key = sender.lower() if sender.lower() in self.members() else OTHERS
        budget = self._budgets.get((route, key))
        if budget is None:
            budget = self._budgets[(route, key)] = _Budget(TokenBucket(self.rate, self.burst))
        who = "unregistered senders" if key == OTHERS else sender
        if budget.in_flight >= self.in_flight:
            self.on_refusal(route)
            raise TooManyRequests(
                f"{who} already has {budget.in_flight} requests in flight on {route} here",
                1.0,
            )
        wait = budget.bucket.take(self.clock())
        if wait > 0:
            self.on_refusal(route)
            raise TooManyRequests(f"{who} is over its request rate on {route} here", wait)
        budget.in_flight += 1

        def give_back() -> None:
            budget.in_flight -= 1

        return Slot(give_back)

    def known(self) -> int:
        """How many budgets the table holds (bounded by members × routes)."""
        return len(self._budgets)
