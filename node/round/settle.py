"""Phase 7, settle: the signed result, the log, the judges' records; and phase 8's reply.

The result (`reputation.result.SwarmResult`) names the winner and says how it
was chosen: candidates with scores and intervals, judges with their reliability
and agreement, verification outcomes, copies and flags, and who was left out.
It is signed, appended to the log (awaited: the reply carries the log's digest
after it) and stored as the round's row; the judges' agreement joins the
in-memory records that later rounds' priors come from, in the same step as the
result is queued for the log (so a round announced later sees it, one announced
earlier does not: `reputation.epoch`). A round that fails is
stored with its error. Reputation changes and the Merkle commitment on chain
join this phase with the chain.
"""

import time
from collections import Counter

from node.context import NodeContext
from node.errors import RoundFailed
from node.round.trail import Trail
from node.round.values import Announced, Candidates, Judgments, Ranked, Settled, Verified
from ranking.consensus import JudgeRecord
from reputation.envelope import sign_envelope
from reputation.result import (
    CandidateScore,
    FailedRound,
    JudgeSummary,
    Parameters,
    SettledRound,
    StoredRound,
    SwarmReply,
    SwarmResult,
    Winner,
)

__all__ = ["record_failure", "settle"]

NO_RECORD = JudgeRecord()


def _result(
    ctx: NodeContext,
    announced: Announced,
    candidates: Candidates,
    judgments: Judgments,
    ranked: Ranked,
    verified: Verified,
    trail: Trail,
) -> SwarmResult:
    best = candidates.candidates[verified.winner]
    verdicts = Counter(c.judge for c in judgments.comparisons)
    status = next((o.status for o in verified.outcomes if o.candidate == best.index), None)
    return SwarmResult(
        round_id=announced.round_id,
        coordinator=ctx.address,
        topic=announced.topic,
        topic_source=announced.topic_source,  # type: ignore[arg-type]
        announce=announced.digest,
        prompt_hash=announced.prompt_hash,
        winner=Winner(
            candidate=best.index,
            node=best.authors[0],
            digest=best.digest,
            verification=status or "not_requested",
        ),
        candidates=[
            CandidateScore(
                candidate=c.index,
                node=c.authors[0],
                nodes=c.authors,
                digest=c.digest,
                score=round(ranked.scores[c.index], 6),
                stderr=round(ranked.stderr[c.index], 6),
                interval=(
                    round(ranked.interval[c.index][0], 6),
                    round(ranked.interval[c.index][1], 6),
                ),
                answers=c.answers,
            )
            for c in candidates.candidates
        ],
        decided_by=ranked.decided_by,
        verification=verified.outcomes,
        judges=[
            JudgeSummary(
                node=j,
                verdicts=count,
                prior=(
                    round(announced.records.get(j, NO_RECORD).agreed, 6),
                    round(announced.records.get(j, NO_RECORD).disagreed, 6),
                ),
                reliability=round(ranked.reliability[j], 6),
                agreed=round(ranked.agreement[j][0], 6),
                disagreed=round(ranked.agreement[j][1], 6),
            )
            for j, count in sorted(verdicts.items())
        ],
        copies=[c.authors for c in candidates.candidates if len(c.authors) > 1],
        copy_flags=candidates.flags,
        left_out=trail.left_out,
        parameters=Parameters(
            pairs_per_candidate=ctx.config.round.pairs_per_candidate,
            verify=ctx.config.verification.enabled,
            verifiers=ctx.config.verification.verifiers,
            sample_rate=ctx.config.verification.sample_rate,
            reexecute=ctx.config.verification.reexecute,  # type: ignore[arg-type]
        ),
    )


async def settle(
    ctx: NodeContext,
    announced: Announced,
    candidates: Candidates,
    judgments: Judgments,
    ranked: Ranked,
    verified: Verified,
    trail: Trail,
) -> Settled:
    result = _result(ctx, announced, candidates, judgments, ranked, verified, trail)
    signed = sign_envelope(
        ctx.account, "result", announced.round_id, result.model_dump(mode="json")
    )
    stored = ctx.journal.append(signed)
    # the round's judges join the records with its result's place in the log
    ctx.judges.add(result.judges, result.topic_key())
    entry = await stored
    trail.timings["total_s"] = time.time() - trail.started
    reply = SwarmReply(
        **result.model_dump(),
        log_digest=entry.digest,
        timings={k: round(v, 4) for k, v in trail.timings.items()},
    )
    winner = candidates.candidates[verified.winner]
    settled = Settled(reply, winner.text, winner.answer.payload.finish_reason)
    await ctx.journal.record_round(
        StoredRound(
            round_id=announced.round_id,
            coordinator=ctx.address,
            created=trail.started,
            status="ok",
            winner=winner.authors[0],
            result=SettledRound(
                swarm=reply, text=settled.text, finish_reason=settled.finish_reason
            ),
        )
    )
    return settled


async def record_failure(ctx: NodeContext, trail: Trail, exc: RoundFailed) -> None:
    await ctx.journal.record_round(
        StoredRound(
            round_id=trail.round_id,
            coordinator=ctx.address,
            created=trail.started,
            status="failed",
            winner=None,
            result=FailedRound(error=str(exc), code=exc.code, left_out=trail.left_out),
        )
    )
