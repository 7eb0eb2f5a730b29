"""Phase 6 of a round, the coordinator's side: verify the winner, replace it if it fails.

Candidates are tried in score order. Each is checked by up to
`verification.verifiers` nodes (this node and healthy peers, none an author of
the candidate, drawn with a seed from the round id and the candidate), all
asked at once, each with `verification.timeout`. A verifier's vote is "all
methods passed"; the majority of those that replied decides
(`verification.base.majority`, a tie fails). A verifier that is down, slow or
refuses is left out of the vote, never waited on past its timeout. When nobody
could vote, the candidate is `unverified` and stands: a round does not stall
on missing verifiers. A failed candidate is replaced by the next one; when
every candidate fails, the round fails. Non-winners are also verified at
`verification.sample_rate` (a seeded draw); their outcomes are recorded.

Methods: `teacher_forced` always; `reexecution` too for a sampled answer when
`verification.reexecute_sampled` (see benchmarks/RESULTS.md, "Verification",
for why greedy answers are not re-executed).
"""

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from node.errors import VerificationFailed
from node.peers import PeerFailure
from node.protocol import VerificationPayload, payload_of
from node.state import NodeContext
from ranking.designs import weighted_draw
from ranking.errors import SwarmError
from reputation.envelope import digest, sign_envelope
from verification.base import majority
from verification.policy import accept

__all__ = ["Outcome", "VerifyPhase"]

Ask = Callable[[str, str, dict[str, Any], float], Awaitable[Any]]
LeaveOut = Callable[[str, str, object], None]


@dataclass
class Outcome:
    candidate: int
    node: str
    answer: str
    passed: bool | None
    methods: list[str]
    copy_flagged: bool = False
    verifiers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return {True: "passed", False: "failed", None: "unverified"}[self.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "node": self.node,
            "answer": self.answer,
            "status": self.status,
            "methods": self.methods,
            "copy_flagged": self.copy_flagged,
            "verifiers": self.verifiers,
        }


class VerifyPhase:
    def __init__(
        self,
        ctx: NodeContext,
        ask: Ask,
        leave_out: LeaveOut,
        round_id: str,
        announce: dict[str, Any],
        seed: Callable[[str], int],
        flagged: frozenset[str] = frozenset(),
    ):
        self.ctx = ctx
        self._ask = ask
        self._leave_out = leave_out
        self.round_id = round_id
        self.announce = announce
        self._seed = seed
        self.flagged = flagged
        """Digests of answers that phase 3 flagged as copies or replays."""

    def methods_for(self, answer: dict[str, Any]) -> list[str]:
        sampled = float(answer["payload"]["sampling"]["temperature"]) > 0.0
        extra = sampled and self.ctx.config.verification.reexecute_sampled
        return ["teacher_forced", "reexecution"] if extra else ["teacher_forced"]

    def _verifiers(self, candidate: int, authors: Sequence[str]) -> list[str]:
        ctx = self.ctx
        pool = [ctx.address] + [p.address for p in ctx.peers if p.healthy]
        pool = [a for a in pool if a not in authors]
        if not pool:
            return []
        count = min(ctx.config.verification.verifiers, len(pool))
        return weighted_draw(pool, [1.0] * len(pool), count, self._seed(f"verifiers:{candidate}"))

    async def verify(
        self, candidate: int, authors: Sequence[str], answer: dict[str, Any]
    ) -> Outcome:
        subject = digest(answer)
        methods = self.methods_for(answer)
        outcome = Outcome(
            candidate, str(answer["sender"]), subject, None, methods, subject in self.flagged
        )
        verifiers = self._verifiers(candidate, authors)
        if not verifiers:
            return outcome
        request = sign_envelope(
            self.ctx.account,
            "verify_request",
            self.round_id,
            {"subject": subject, "answer": answer, "announce": self.announce, "methods": methods},
        )
        self.ctx.log.append(request)
        timeout = self.ctx.config.verification.timeout
        replies = await asyncio.gather(
            *(self._ask(v, "/swarm/v1/verify", request, timeout) for v in verifiers),
            return_exceptions=True,
        )
        votes = []
        for verifier, reply in zip(verifiers, replies, strict=True):
            try:
                if isinstance(reply, BaseException):
                    raise reply
                results = self._read(verifier, subject, reply)
            except (SwarmError, ValidationError, TypeError, KeyError) as exc:
                self._leave_out(verifier, "verify", exc)
                continue
            vote = accept(
                {r["method"]: r for r in results},
                float(answer["payload"]["sampling"]["temperature"]),
                subject in self.flagged,
            )
            votes.append(vote)
            outcome.verifiers.append({"node": verifier, "passed": vote, "results": results})
        outcome.passed = majority(votes)
        return outcome

    def _read(self, verifier: str, subject: str, reply: Any) -> list[dict[str, Any]]:
        self.ctx.guard.check(reply, "verification", self.round_id)
        payload = payload_of(VerificationPayload, reply)
        if reply["sender"] != verifier or payload.subject != subject:
            raise PeerFailure("verification signed by another node or for another answer")
        self.ctx.log.append(reply)
        return [r.model_dump() for r in payload.results]

    async def run(
        self,
        order: Sequence[int],
        authors: Sequence[Sequence[str]],
        answers: Sequence[dict[str, Any]],
    ) -> tuple[int, list[Outcome]]:
        """Verify in `order` until a candidate is not failed; sample the rest.
        Returns the winner and every outcome. `RoundFailed` when all fail."""
        outcomes: list[Outcome] = []
        winner = None
        for c in order:
            outcome = await self.verify(c, authors[c], answers[c])
            outcomes.append(outcome)
            if outcome.passed is not False:
                winner = c
                break
        if winner is None:
            raise VerificationFailed(f"no candidate passed verification ({len(outcomes)} failed)")
        rate = self.ctx.config.verification.sample_rate
        draw = random.Random(self._seed("sample"))
        done = {o.candidate for o in outcomes}
        sampled = [c for c in order if c not in done and draw.random() < rate]
        outcomes += await asyncio.gather(*(self.verify(c, authors[c], answers[c]) for c in sampled))
        return winner, outcomes
