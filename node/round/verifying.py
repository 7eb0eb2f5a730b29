"""Phase 6, verify: check the winner, replace it if it fails.

Candidates are tried in score order. Each is checked by up to
`verification.verifiers` nodes (this node and healthy peers known to serve the
round's model, from the pool the announcement listed, none an author of the
candidate, drawn with a seed from the round id and the candidate:
`reputation.draws.draw_verifiers`), all asked at once; the signed request names
the pool and the verifiers drawn from it, for an auditor to re-draw. A
verifier's vote is `verification.policy.accept` over its signed results;
a verifier that refuses the claim itself (another model, impossible token ids:
a `claim_rejected` refusal, signed) votes against it. Only a verifier that
cannot be reached, times out or replies with something unusable (an unsigned
refusal among them) abstains, and is left out. The majority of the votes
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
from dataclasses import dataclass
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
from reputation.envelope import digest, sign_envelope
from reputation.messages import REFUSAL, VerificationPayload, payload_of
from reputation.result import VerificationOutcome, VerifierVote
from swarm_errors import SwarmError
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
    # verifiers come from the round's announced pool (a peer that turned healthy since
    # is not in it), so an auditor can check the pool against the announcement
    pool = [a for a in ctx.peers.pool(announced.model, known_only=True) if a in announced.weights]
    verifiers = draw_verifiers(
        rid, candidate.index, pool, candidate.authors, cfg.verifiers, announced.weights
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
            "pool": pool,
            "verifiers": verifiers,
        }
        request = sign_envelope(ctx.account, "verify_request", rid, body)
        ctx.journal.append(request)
        chars = sum(len(m["content"]) for m in announced.messages)
        tokens = len(answer.payload.token_ids)
        timeout = verify_timeout(
            ctx.config, ctx.speed, chars, tokens, "reexecution" in methods, len(verifiers)
        )
        read = partial(_read, ctx, rid, answer.digest, digest(request), temperature, flagged)
        gathered = await fan_out(
            ctx.peers, PATHS["verify"], dict.fromkeys(verifiers, request), timeout, read
        )
        for verifier in verifiers:  # in the drawn order
            refusal = gathered.refused.get(verifier)
            if refusal is not None and refusal.about_claim:
                try:  # a signed refusal of the claim is a failed vote
                    gathered.replies[verifier] = read(verifier, refusal.signed)
                except (SwarmError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
                    trail.leave_out(verifier, "verify", f"{refusal}; unusable: {exc}")
                    continue
            if verifier in gathered.replies:
                vote = gathered.replies[verifier]
                ctx.journal.append(vote.message)
                votes.append(vote.vote)
            else:
                trail.leave_out(verifier, "verify", refusal or gathered.absent[verifier])
    return VerificationOutcome(
        candidate=candidate.index,
        node=answer.node,
        answer=answer.digest,
        status=STATUS[majority([v.passed for v in votes])],  # type: ignore[arg-type]
        methods=methods,
        copy_flagged=flagged,
        verifiers=votes,
    )


@dataclass(frozen=True)
class Signed:
    """A verifier's signed reply and the vote it makes."""

    message: dict[str, Any]
    vote: VerifierVote


def _read(
    ctx: NodeContext,
    round_id: str,
    subject: str,
    request: str,
    temperature: float,
    flagged: bool,
    verifier: str,
    reply: Any,
) -> Signed:
    """A verifier's signed verification (or signed refusal), checked, with its vote."""
    if not isinstance(reply, dict) or reply.get("sender") != verifier:
        raise BadReply("verification signed by another node")  # before the guard keeps it
    ctx.guard.check(reply, "verification", round_id, remember=False)
    payload = payload_of(VerificationPayload, reply)
    if (payload.subject, payload.request) != (subject, request):
        raise BadReply("verification for another answer or request")
    ctx.guard.remember(reply)  # kept only once it is about what was asked
    results = list(payload.results)
    refusals = [r for r in results if r.method == REFUSAL]
    if refusals:
        code = str(refusals[0].evidence.get("code", "refused"))
        return Signed(
            reply, VerifierVote(node=verifier, passed=False, results=results, refused=code)
        )
    vote = accept({r.method: r.model_dump() for r in results}, temperature, flagged)
    return Signed(reply, VerifierVote(node=verifier, passed=vote, results=results))
