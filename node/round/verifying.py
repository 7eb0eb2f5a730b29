"""Phase 6, verify: check the winner, replace it if it fails.

Candidates are tried in score order. Each is checked by up to
`verification.verifiers` nodes (this node and healthy peers, none an author of
the candidate, drawn with a seed from the round id and the candidate:
`reputation.draws.draw_verifiers`), all asked at once. A verifier's vote is
`verification.policy.accept` over its results; a verifier that refuses the
claim itself (another model, impossible token ids: a `claim_rejected` refusal)
votes against it. Only a verifier that cannot be reached, times out or replies
with something unusable abstains, and is left out. The majority of the votes
decides (`verification.base.majority`, a tie fails); with no vote at all the
candidate is `unverified` and stands, so a round does not stall on missing
verifiers. A failed candidate is replaced by the next one; when every candidate
fails, the round fails. Non-winners are also verified at
`verification.sample_rate` (a seeded draw); their outcomes are recorded.

Methods: `teacher_forced` always; `reexecution` too for a sampled answer unless
`verification.reexecute` is `never` (see benchmarks/RESULTS.md, "Verification",
for why greedy answers are not re-executed). With `decisive` (the default) a
verifier re-executes only when the result can change its vote; a flagged copy is
always re-executed, since for it re-execution always decides.
"""

import asyncio
from functools import partial
from typing import Any

from node.context import NodeContext
from node.errors import BadReply, VerificationFailed
from node.peers.fanout import fan_out
from node.round.timeouts import verify_timeout
from node.round.trail import Trail
from node.round.values import Announced, Candidate, Candidates, Ranked, Verified
from node.serve import PATHS
from reputation.draws import draw_verifiers, sample_others
from reputation.envelope import sign_envelope
from reputation.messages import MethodResult, VerificationPayload, payload_of
from reputation.result import VerificationOutcome, VerifierVote
from verification.base import majority
from verification.policy import accept

__all__ = ["methods_for", "verifying"]

STATUS = {True: "passed", False: "failed", None: "unverified"}


def methods_for(ctx: NodeContext, temperature: float) -> list[str]:
    extra = temperature > 0.0 and ctx.config.verification.reexecute != "never"
    return ["teacher_forced", "reexecution"] if extra else ["teacher_forced"]


async def verifying(
    ctx: NodeContext, announced: Announced, candidates: Candidates, ranked: Ranked, trail: Trail
) -> Verified:
    if not ctx.config.verification.enabled:
        return Verified(ranked.order[0], [])
    check = partial(_verify, ctx, announced, candidates, trail)
    outcomes: list[VerificationOutcome] = []
    for c in ranked.order:
        outcomes.append(await check(candidates.candidates[c]))
        if outcomes[-1].status != "failed":
            break
    else:
        raise VerificationFailed(f"no candidate passed verification ({len(outcomes)} failed)")
    winner = outcomes[-1].candidate
    rate = ctx.config.verification.sample_rate
    done = {o.candidate for o in outcomes}
    others = sample_others(announced.round_id, ranked.order, done, rate)
    outcomes += await asyncio.gather(*(check(candidates.candidates[c]) for c in others))
    return Verified(winner, outcomes)


async def _verify(
    ctx: NodeContext,
    announced: Announced,
    candidates: Candidates,
    trail: Trail,
    candidate: Candidate,
) -> VerificationOutcome:
    answer = candidate.answer
    temperature = answer.payload.sampling.temperature
    flagged = answer.digest in candidates.flagged
    methods = methods_for(ctx, temperature)
    cfg = ctx.config.verification
    rid = announced.round_id
    verifiers = draw_verifiers(
        rid, candidate.index, ctx.peers.pool(), candidate.authors, cfg.verifiers
    )
    votes: list[VerifierVote] = []
    if verifiers:
        always = cfg.reexecute == "always" or flagged
        body = {
            "subject": answer.digest,
            "answer": answer.message,
            "announce": announced.message,
            "methods": methods,
            "reexecute": "always" if always else "decisive",
        }
        request = sign_envelope(ctx.account, "verify_request", rid, body)
        ctx.journal.append(request)
        chars = sum(len(m["content"]) for m in announced.messages)
        tokens = len(answer.payload.token_ids)
        timeout = verify_timeout(
            ctx.config, ctx.speed, chars, tokens, "reexecution" in methods, len(verifiers)
        )
        gathered = await fan_out(
            ctx.peers,
            PATHS["verify"],
            dict.fromkeys(verifiers, request),
            timeout,
            partial(_read, ctx, rid, answer.digest),
        )
        for verifier in verifiers:  # in the drawn order
            refusal = gathered.refused.get(verifier)
            if verifier in gathered.replies:
                reply, results = gathered.replies[verifier]
                ctx.journal.append(reply)
                as_dicts = {r.method: r.model_dump() for r in results}
                vote = accept(as_dicts, temperature, flagged)
                votes.append(VerifierVote(node=verifier, passed=vote, results=results))
            elif refusal is not None and refusal.about_claim:
                votes.append(VerifierVote(node=verifier, passed=False, refused=refusal.peer_code))
            else:
                trail.leave_out(verifier, "verify", gathered.failures()[verifier])
    return VerificationOutcome(
        candidate=candidate.index,
        node=answer.node,
        answer=answer.digest,
        status=STATUS[majority([v.passed for v in votes])],  # type: ignore[arg-type]
        methods=methods,
        copy_flagged=flagged,
        verifiers=votes,
    )


def _read(
    ctx: NodeContext, round_id: str, subject: str, verifier: str, reply: Any
) -> tuple[dict[str, Any], list[MethodResult]]:
    ctx.guard.check(reply, "verification", round_id)
    payload = payload_of(VerificationPayload, reply)
    if reply["sender"] != verifier or payload.subject != subject:
        raise BadReply("verification signed by another node or for another answer")
    return reply, list(payload.results)
