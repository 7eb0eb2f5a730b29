"""The coordinator's side of a round, composed from one module per phase.

Reads like DESIGN.md's list ("A round"):

1. Query (`node.round.announce`): round id, a seeded draw of participants,
   a signed announcement.
2. Answer (`node.round.answering`): every participant answers; admission checks
   each answer (signature, round, model, vocabulary, LSH signature).
3. Copy check (`node.round.copies`): copies and replays flagged; near-identical
   answers grouped into candidates.
4. Judge (`node.round.judging`): a seeded pair design, each pair in both orders
   to a judge who wrote neither side; failed judges' tasks re-assigned once.
5. Aggregate (`node.round.ranking`): CrowdBT over the confidence-weighted
   verdicts, judges' reliability from their records.
6. Verify (`node.round.verifying`): the winner checked by up to three other
   nodes; a failed winner replaced by the next candidate.
7. Settle (`node.round.settle`): the signed result into the log, the judges'
   records updated.
8. Reply: the `Settled` value, whose `reply` is the client's `swarm` object
   (`node.api` wraps it in a ChatCompletion or a stream).

Every peer, this node included, is reached through `node.peers` (the node's own
participant is a local peer). Each phase takes and returns typed values
(`node.round.values`); who was left out, phase times and progress go in the
round's `Trail`. A round that cannot go on raises `RoundFailed` (503), and the
failure is stored in the log.
"""

from node.context import NodeContext
from node.errors import RoundFailed
from node.round.announce import draw_and_announce
from node.round.answering import answering
from node.round.copies import check_copies
from node.round.judging import judging
from node.round.ranking import rank
from node.round.settle import record_failure, settle
from node.round.trail import Progress, Trail, no_progress
from node.round.values import Announced, Settled
from node.round.verifying import verifying

__all__ = ["Coordinator"]


class Coordinator:
    def __init__(self, ctx: NodeContext):
        self.ctx = ctx

    async def run(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        progress: Progress = no_progress,
        category: str = "",
    ) -> Settled:
        """One round for `messages` (of the client's `category`, if it named one); the
        settled result, or `RoundFailed`."""
        ctx = self.ctx
        announced = draw_and_announce(ctx, messages, max_tokens, category)  # 1. query
        trail = Trail(announced.round_id, ctx.metrics, progress)
        try:
            with ctx.metrics.round_seconds.time():
                settled = await self._phases_2_to_7(announced, trail)
        except RoundFailed as exc:
            ctx.metrics.rounds.labels("failed").inc()
            await record_failure(ctx, trail, exc)
            raise
        ctx.metrics.rounds.labels("ok").inc()
        return settled  # 8. reply: `settled.reply` is the client's `swarm` object

    async def _phases_2_to_7(self, announced: Announced, trail: Trail) -> Settled:
        ctx = self.ctx
        await trail.progress(
            f"round {announced.round_id}: {len(announced.participants)} nodes answering"
        )
        with trail.timed("answer"):
            answers = await answering(ctx, announced, trail)  # 2. answer
        candidates = check_copies(ctx, answers)  # 3. copy check
        await trail.progress(
            f"{len(answers)} answers, {len(candidates.candidates)} distinct candidates"
        )
        judges = sorted({a.node for a in answers})
        with trail.timed("judge"):
            judgments = await judging(ctx, announced, candidates.candidates, judges, trail)  # 4.
        ranked = rank(candidates.candidates, judgments, announced.records)  # 5. aggregate
        if ctx.config.verification.enabled:
            await trail.progress("verifying the winner")
        with trail.timed("verify"):
            verified = await verifying(ctx, announced, candidates, ranked, trail)  # 6. verify
        return await settle(ctx, announced, candidates, judgments, ranked, verified, trail)  # 7.
