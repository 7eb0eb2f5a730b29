"""The coordinator's side of a round: phases 1–5 of DESIGN.md, and the result.

1. Query: `round_id` = keccak(canonical request ‖ coordinator address ‖ nonce);
   participants are a weighted draw (uniform weights until reputation exists)
   over this node and its healthy peers, seeded with the round id.
2. Answer: a signed announcement goes to every participant; each returns a
   signed answer. Peers that fail, time out or send a bad answer are left out.
3. Copy check: see below.
4. Judge: a sparse pair design seeded with the round id; each pair goes, in
   both orders, to one judge who wrote neither candidate. A judge that fails
   has its tasks re-assigned once to other eligible judges.
5. Aggregate: CrowdBT (`ranking.consensus.rank_round`): Bradley–Terry scores
   (prior precision `BT_PRIOR`) and each judge's reliability η fitted jointly
   on all verdicts (outcome P(first better), unit weight), η's prior from the
   judge's record of agreeing with past rounds' consensus in this node's log
   (`node.records`); the top score wins, ties to the earlier candidate. Scores
   carry Laplace standard errors and 95% intervals; judges carry η and their
   agreement with this round's consensus, which feeds later rounds. When no
   pair at all can go to a judge who wrote neither side (e.g. three nodes, two
   of which gave the same answer), the candidate with the most authors wins by
   agreement; `decided_by` in the result says which rule chose the winner
   (`judges`, `agreement`, `single`).
6. Verify (`node.verify_phase`): the winner is checked by up to three other
   nodes and replaced by the next candidate if it fails; outcomes go in the
   result under `verification`.
Phase 3 in detail: every answer's LSH signature must be its text's (else it is
left out); answers that are near-copies of another node's earlier answer, or
replays of an answer to another prompt, in this node's LSH index
(`verification.index`) are flagged with the evidence under `copy_flags` (a
flagged winner gets no benefit of the doubt in phase 6);
identical and near-identical answers (`verification.grouping.group_near`)
form one candidate, and groups with several authors are listed under `copies`.
The result is signed, logged and returned; the log's digest of the result goes
in the reply. Too few answers or judges left → `RoundFailed`.
"""

import asyncio
import logging
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak
from pydantic import ValidationError

from node.claims import claim_of
from node.errors import RoundFailed
from node.participant import serve_answer, serve_judge, text_digest
from node.peers import PeerClient, PeerFailure
from node.protocol import AnnouncePayload, AnswerPayload, VerdictPayload, payload_of
from node.records import judge_records
from node.state import NodeContext
from node.verify_phase import Outcome, VerifyPhase
from node.verifying import serve_verify
from ranking.consensus import rank_round
from ranking.designs import Assignment, assign_judges, pair_design, weighted_draw
from ranking.errors import SwarmError
from reputation.envelope import canonical, digest, sign_envelope
from verification.copies import CopyVerifier, indexed
from verification.grouping import group_near
from verification.index import IndexedAnswer

__all__ = [
    "BT_PRIOR",
    "Coordinator",
    "Progress",
    "no_progress",
    "round_id_for",
    "seed_of",
]

log = logging.getLogger(__name__)

Progress = Callable[[str], Awaitable[None]]
BT_PRIOR = 0.1
"""Prior precision of the round's BT fit: weaker than half of one even comparison."""


def round_id_for(
    messages: list[dict[str, str]], max_tokens: int, coordinator: str, nonce: str
) -> str:
    request = canonical({"messages": messages, "max_tokens": max_tokens})
    return "0x" + keccak(request + coordinator.encode() + bytes.fromhex(nonce)).hex()


def seed_of(round_id: str, purpose: str) -> int:
    """A 64-bit seed for one seeded choice of the round (anyone can recompute it)."""
    return int.from_bytes(keccak(f"{round_id}:{purpose}".encode())[:8], "big")


@dataclass
class Candidate:
    index: int
    text: str
    digest: str
    authors: list[str]
    answers: list[str]
    finish_reason: str


@dataclass
class Comparison:
    judge: str
    first: int
    second: int
    p_first: float
    mass: float


@dataclass
class Ranked:
    """Phase 5's outcome: scores, and the candidates from best to worst."""

    scores: list[float]
    stderr: list[float]
    interval: list[tuple[float, float]]
    decided_by: str
    order: list[int]
    reliability: dict[str, float]
    agreement: dict[str, tuple[float, float]]


@dataclass
class RoundState:
    round_id: str
    messages: list[dict[str, str]]
    started: float
    prompt_hash: str = ""
    left_out: list[dict[str, str]] = field(default_factory=list)
    copy_flags: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


async def no_progress(_: str) -> None:
    """The default progress callback: say nothing."""
    return None


class Coordinator:
    def __init__(self, ctx: NodeContext, client: PeerClient):
        self.ctx = ctx
        self.client = client

    async def _ask(self, address: str, path: str, message: dict[str, Any], timeout: float) -> Any:
        if address == self.ctx.address:
            local = {
                "/swarm/v1/answer": serve_answer,
                "/swarm/v1/judge": serve_judge,
                "/swarm/v1/verify": serve_verify,
            }[path]
            try:
                return await asyncio.wait_for(local(self.ctx, message), timeout)
            except (SwarmError, TimeoutError) as exc:
                raise PeerFailure(f"{type(exc).__name__}: {exc}") from exc
        peer = self.ctx.peer(address)
        if peer is None:
            raise PeerFailure("not a known peer")
        try:
            return await self.client.call(peer.url, path, message, timeout)
        except PeerFailure:
            peer.healthy = False  # the health loop brings it back
            raise

    def _leave_out(self, state: RoundState, node: str, phase: str, reason: object) -> None:
        log.warning("round %s: %s left out of %s: %s", state.round_id[:10], node, phase, reason)
        state.left_out.append({"node": node, "phase": phase, "reason": str(reason)[:300]})
        self.ctx.metrics.peer_failures.labels(phase).inc()

    async def run(
        self, messages: list[dict[str, str]], max_tokens: int, progress: Progress = no_progress
    ) -> dict[str, Any]:
        ctx = self.ctx
        nonce = os.urandom(16).hex()
        round_id = round_id_for(messages, max_tokens, ctx.address, nonce)
        state = RoundState(round_id, messages, time.time(), digest(messages))
        try:
            with ctx.metrics.round_seconds.time():
                out = await self._run(state, max_tokens, nonce, progress)
        except RoundFailed as exc:
            ctx.metrics.rounds.labels("failed").inc()
            ctx.log.record_round(
                round_id,
                ctx.address,
                state.started,
                "failed",
                None,
                {"error": str(exc), "left_out": state.left_out},
            )
            raise
        ctx.metrics.rounds.labels("ok").inc()
        return out

    async def _run(
        self, state: RoundState, max_tokens: int, nonce: str, progress: Progress
    ) -> dict[str, Any]:
        ctx, cfg = self.ctx, self.ctx.config.round
        pool = [ctx.address] + [p.address for p in ctx.peers if p.healthy]
        participants = weighted_draw(
            pool, [1.0] * len(pool), cfg.max_participants, seed_of(state.round_id, "participants")
        )
        announce = sign_envelope(
            ctx.account,
            "announce",
            state.round_id,
            AnnouncePayload.model_validate(
                {
                    "messages": state.messages,
                    "max_tokens": max_tokens,
                    "participants": participants,
                    "prompt_hash": state.prompt_hash,
                    "nonce": nonce,
                }
            ).model_dump(),
        )
        ctx.log.append(announce)
        await progress(f"round {state.round_id}: {len(participants)} nodes answering")
        t0 = time.perf_counter()
        answers = await self._collect_answers(state, announce, participants)
        state.timings["answer_s"] = time.perf_counter() - t0
        ctx.metrics.phase_seconds.labels("answer").observe(state.timings["answer_s"])
        if len(answers) < cfg.min_answers:
            raise RoundFailed(
                f"only {len(answers)} of {len(participants)} nodes answered; "
                f"a round needs {cfg.min_answers}"
            )
        items = self._copy_check(state, announce, answers)
        candidates = self._group(answers, items)
        await progress(f"{len(answers)} answers, {len(candidates)} distinct candidates")
        t0 = time.perf_counter()
        comparisons = await self._judge(
            state, candidates, sorted({a["sender"] for a in answers}), progress
        )
        state.timings["judge_s"] = time.perf_counter() - t0
        ctx.metrics.phase_seconds.labels("judge").observe(state.timings["judge_s"])
        ranked = self._rank(candidates, comparisons)
        if ctx.config.verification.enabled:
            await progress("verifying the winner")
        t0 = time.perf_counter()
        winner, outcomes = await self._verify(state, announce, candidates, answers, ranked.order)
        state.timings["verify_s"] = time.perf_counter() - t0
        ctx.metrics.phase_seconds.labels("verify").observe(state.timings["verify_s"])
        return self._settle(state, announce, candidates, comparisons, ranked, winner, outcomes)

    async def _collect_answers(
        self, state: RoundState, announce: dict[str, Any], participants: list[str]
    ) -> list[dict[str, Any]]:
        timeout = self.ctx.config.round.answer_timeout
        replies = await asyncio.gather(
            *(self._ask(a, "/swarm/v1/answer", announce, timeout) for a in participants),
            return_exceptions=True,
        )
        announce_digest = digest(announce)
        answers = []
        for address, reply in zip(participants, replies, strict=True):
            if isinstance(reply, BaseException):
                self._leave_out(state, address, "answer", reply)
                continue
            try:
                self.ctx.guard.check(reply, "answer", state.round_id)
                payload = payload_of(AnswerPayload, reply)
                if reply["sender"] != address:
                    raise PeerFailure("answer signed by another node")
                if payload.announce != announce_digest or payload.prompt_hash != state.prompt_hash:
                    raise PeerFailure("answer is for another announcement")
                claim_of(reply, announce).lean()  # SignatureError: malformed or not the text's
            except (SwarmError, ValidationError, TypeError) as exc:
                self._leave_out(state, address, "answer", exc)
                continue
            self.ctx.log.append(reply)
            answers.append(reply)
        return answers

    def _copy_check(
        self, state: RoundState, announce: dict[str, Any], answers: list[dict[str, Any]]
    ) -> list[IndexedAnswer]:
        """Flag copies and replays of earlier answers (evidence, not exclusion: honest
        answers collide now and then); index this round's answers and return them as
        index entries (signatures were checked on admission)."""
        checker = CopyVerifier(self.ctx.copies)
        items = [indexed(claim_of(a, announce)) for a in answers]
        for item in items:
            result = checker.check(item)
            if not result.passed:
                state.copy_flags.append(
                    {
                        "node": item.node,
                        "answer": item.key,
                        "similarity": result.score,
                        **result.evidence,
                    }
                )
        for item in items:
            self.ctx.copies.add(item)
        return items

    @staticmethod
    def _group(answers: list[dict[str, Any]], items: list[IndexedAnswer]) -> list[Candidate]:
        texts = [a["payload"]["text"] for a in answers]
        sigs = [item.signature for item in items]
        sizes = [item.shingles for item in items]
        candidates = []
        for index, group in enumerate(group_near(texts, sigs, sizes)):
            first = answers[group[0]]
            candidates.append(
                Candidate(
                    index=index,
                    text=first["payload"]["text"],
                    digest=text_digest(first["payload"]["text"]),
                    authors=[answers[g]["sender"] for g in group],
                    answers=[digest(answers[g]) for g in group],
                    finish_reason=first["payload"]["finish_reason"],
                )
            )
        return candidates

    async def _judge(
        self, state: RoundState, candidates: list[Candidate], judges: list[str], progress: Progress
    ) -> list[Comparison]:
        if len(candidates) < 2:
            return []
        cfg = self.ctx.config.round
        pairs = pair_design(
            len(candidates), cfg.pairs_per_candidate, seed_of(state.round_id, "pairs")
        )
        authors = [c.authors for c in candidates]
        plan = assign_judges(pairs, authors, judges, seed_of(state.round_id, "judges"))
        if not plan.assignments:
            await progress("no neutral judge for any pair: deciding by agreement")
            return []
        await progress(
            f"judging: {len(plan.assignments)} verdicts from "
            f"{len({a.judge for a in plan.assignments})} judges"
        )
        comparisons, failed = await self._send_judging(state, candidates, plan.assignments)
        if failed:  # re-assign once to judges that did not fail
            retry = [a for a in plan.assignments if a.judge in failed and a.first < a.second]
            others = [j for j in judges if j not in failed]
            replan = assign_judges(
                [(a.first, a.second) for a in retry],
                authors,
                others,
                seed_of(state.round_id, "judges-retry"),
            )
            more, _ = await self._send_judging(state, candidates, replan.assignments)
            comparisons += more
        judged = {c.first for c in comparisons} | {c.second for c in comparisons}
        if len(judged) < len(candidates):
            raise RoundFailed(
                f"too few judges: {len(candidates) - len(judged)} candidate(s) got no verdict "
                "(a judge may not judge its own answer)"
            )
        return comparisons

    async def _send_judging(
        self, state: RoundState, candidates: list[Candidate], assignments: list[Assignment]
    ) -> tuple[list[Comparison], set[str]]:
        by_judge: dict[str, list[tuple[int, Assignment]]] = defaultdict(list)
        for task, assignment in enumerate(assignments):
            by_judge[assignment.judge].append((task, assignment))
        requests = {}
        for judge, tasks in by_judge.items():
            payload = {
                "messages": state.messages,
                "tasks": [
                    {
                        "task": t,
                        "first": candidates[a.first].text,
                        "second": candidates[a.second].text,
                        "first_digest": candidates[a.first].digest,
                        "second_digest": candidates[a.second].digest,
                    }
                    for t, a in tasks
                ],
            }
            requests[judge] = sign_envelope(
                self.ctx.account, "judge_request", state.round_id, payload
            )
            self.ctx.log.append(requests[judge])
        timeout = self.ctx.config.round.judge_timeout
        replies = await asyncio.gather(
            *(self._ask(j, "/swarm/v1/judge", requests[j], timeout) for j in by_judge),
            return_exceptions=True,
        )
        comparisons: list[Comparison] = []
        failed: set[str] = set()
        for judge, reply in zip(by_judge, replies, strict=True):
            try:
                if isinstance(reply, BaseException):
                    raise reply
                comparisons += self._read_verdicts(
                    state, judge, requests[judge], reply, dict(by_judge[judge]), candidates
                )
            except (SwarmError, ValidationError, TypeError) as exc:
                self._leave_out(state, judge, "judge", exc)
                failed.add(judge)
        return comparisons, failed

    def _read_verdicts(
        self,
        state: RoundState,
        judge: str,
        request: dict[str, Any],
        reply: Any,
        tasks: dict[int, Assignment],
        candidates: list[Candidate],
    ) -> list[Comparison]:
        self.ctx.guard.check(reply, "verdict", state.round_id)
        payload = payload_of(VerdictPayload, reply)
        if reply["sender"] != judge or payload.request != digest(request):
            raise PeerFailure("verdicts signed by another node or for another request")
        out = []
        for v in payload.verdicts:
            a = tasks.get(v.task)
            if a is None or (v.first_digest, v.second_digest) != (
                candidates[a.first].digest,
                candidates[a.second].digest,
            ):
                raise PeerFailure(f"verdict for task {v.task} does not match the request")
            out.append(Comparison(judge, a.first, a.second, v.p_first, v.mass))
        if len(out) != len(tasks):
            raise PeerFailure(f"{len(tasks) - len(out)} task(s) without a verdict")
        self.ctx.log.append(reply)
        return out

    def _rank(self, candidates: list[Candidate], comparisons: list[Comparison]) -> "Ranked":
        n = len(candidates)
        if not comparisons:
            # No verdicts: the candidate with the most authors leads, earlier ones first.
            order = sorted(range(n), key=lambda i: (-len(candidates[i].authors), i))
            return Ranked(
                [0.0] * n,
                [0.0] * n,
                [(0.0, 0.0)] * n,
                "single" if n == 1 else "agreement",
                order,
                {},
                {},
            )
        ranking = rank_round(
            n,
            [c.first for c in comparisons],
            [c.second for c in comparisons],
            [c.p_first for c in comparisons],
            [c.judge for c in comparisons],
            judge_records(self.ctx.log),
            prior=BT_PRIOR,
        )
        order = sorted(range(n), key=lambda i: (-ranking.scores[i], i))
        return Ranked(
            ranking.scores,
            ranking.stderr,
            ranking.interval,
            "judges",
            order,
            ranking.reliability,
            {j: (a.agreed, a.disagreed) for j, a in ranking.agreement.items()},
        )

    async def _verify(
        self,
        state: RoundState,
        announce: dict[str, Any],
        candidates: list[Candidate],
        answers: list[dict[str, Any]],
        order: list[int],
    ) -> tuple[int, list[Outcome]]:
        if not self.ctx.config.verification.enabled:
            return order[0], []
        by_digest = {digest(a): a for a in answers}
        phase = VerifyPhase(
            self.ctx,
            self._ask,
            lambda node, where, why: self._leave_out(state, node, where, why),
            state.round_id,
            announce,
            lambda purpose: seed_of(state.round_id, purpose),
            frozenset(flag["answer"] for flag in state.copy_flags),
        )
        return await phase.run(
            order,
            [c.authors for c in candidates],
            [by_digest[c.answers[0]] for c in candidates],
        )

    def _settle(
        self,
        state: RoundState,
        announce: dict[str, Any],
        candidates: list[Candidate],
        comparisons: list[Comparison],
        ranked: "Ranked",
        best: int,
        outcomes: list[Outcome],
    ) -> dict[str, Any]:
        ctx = self.ctx
        scores, stderr, interval = ranked.scores, ranked.stderr, ranked.interval
        judges: dict[str, int] = defaultdict(int)
        for c in comparisons:
            judges[c.judge] += 1
        swarm = {
            "round_id": state.round_id,
            "coordinator": ctx.address,
            "announce": digest(announce),
            "prompt_hash": state.prompt_hash,
            "winner": {
                "candidate": best,
                "node": candidates[best].authors[0],
                "digest": candidates[best].digest,
                "verification": next(
                    (o.status for o in outcomes if o.candidate == best), "not_requested"
                ),
            },
            "candidates": [
                {
                    "candidate": c.index,
                    "node": c.authors[0],
                    "nodes": c.authors,
                    "digest": c.digest,
                    "score": round(scores[c.index], 6),
                    "stderr": round(stderr[c.index], 6),
                    "interval": [round(x, 6) for x in interval[c.index]],
                    "answers": c.answers,
                }
                for c in candidates
            ],
            "decided_by": ranked.decided_by,
            "verification": [o.as_dict() for o in outcomes],
            "judges": [
                {
                    "node": j,
                    "verdicts": count,
                    "reliability": round(ranked.reliability[j], 6),
                    "agreed": round(ranked.agreement[j][0], 6),
                    "disagreed": round(ranked.agreement[j][1], 6),
                }
                for j, count in sorted(judges.items())
            ],
            "copies": [c.authors for c in candidates if len(c.authors) > 1],
            "copy_flags": state.copy_flags,
            "left_out": state.left_out,
        }
        result = sign_envelope(ctx.account, "result", state.round_id, swarm)
        entry = ctx.log.append(result)
        state.timings["total_s"] = time.time() - state.started
        reply = {
            **swarm,
            "log_digest": entry.digest,
            "timings": {k: round(v, 4) for k, v in state.timings.items()},
        }
        winner = candidates[best]
        ctx.log.record_round(
            state.round_id,
            ctx.address,
            state.started,
            "ok",
            winner.authors[0],
            {"swarm": reply, "text": winner.text, "finish_reason": winner.finish_reason},
        )
        return {"swarm": reply, "text": winner.text, "finish_reason": winner.finish_reason}
