"""Phase 4, judge: a seeded sparse pair design, each pair to a judge who wrote neither.

Pairs come from `reputation.draws.design_pairs` (every candidate in at least
min(k, n−1) pairs, connected), and each goes, in both orders, to one judge among
the round's answerers who wrote neither candidate (`assign_pairs`, seeded with
the round id). A judge receives all its tasks in one request, and its engine
reads them as one batch. A judge that fails or times out has its tasks
re-assigned once to the judges that did not fail. When no pair can go to a
neutral judge, the round is decided by agreement (phase 5). The round fails
when some candidate gets no verdict at all.
"""

from collections import defaultdict
from functools import partial
from typing import Any

from node.context import NodeContext
from node.errors import BadReply, RoundFailed
from node.peers.fanout import fan_out
from node.round.timeouts import judge_timeout
from node.round.trail import Trail
from node.round.values import Announced, Candidate, Comparison, Judgments
from node.serve import PATHS
from ranking.designs import Assignment
from ranking.judging import judge_messages
from reputation.draws import assign_pairs, design_pairs
from reputation.envelope import digest, sign_envelope
from reputation.messages import (
    ChatTurn,
    JudgeRequestPayload,
    JudgeTask,
    VerdictPayload,
    payload_of,
)

__all__ = ["judging"]


async def judging(
    ctx: NodeContext,
    announced: Announced,
    candidates: list[Candidate],
    judges: list[str],
    trail: Trail,
) -> Judgments:
    if len(candidates) < 2:
        return Judgments([], "single")
    rid = announced.round_id
    pairs = design_pairs(rid, len(candidates), ctx.config.round.pairs_per_candidate)
    authors = [c.authors for c in candidates]
    plan = assign_pairs(rid, pairs, authors, judges)
    if not plan.assignments:
        await trail.progress("no neutral judge for any pair: deciding by agreement")
        return Judgments([], "agreement")
    await trail.progress(
        f"judging: {len(plan.assignments)} verdicts from "
        f"{len({a.judge for a in plan.assignments})} judges"
    )
    comparisons, failed = await _ask(ctx, announced, candidates, plan.assignments, trail, 0)
    if failed:  # re-assign once, to the judges that did not fail
        retry = [(a.first, a.second) for a in plan.assignments if a.judge in failed]
        others = [j for j in judges if j not in failed]
        replan = assign_pairs(rid, [p for p in retry if p[0] < p[1]], authors, others, retry=True)
        more, _ = await _ask(ctx, announced, candidates, replan.assignments, trail, 1)
        comparisons += more
    judged = {c.first for c in comparisons} | {c.second for c in comparisons}
    if len(judged) < len(candidates):
        raise RoundFailed(
            f"too few judges: {len(candidates) - len(judged)} candidate(s) got no verdict "
            "(a judge may not judge its own answer)"
        )
    return Judgments(comparisons, "judges")


async def _ask(
    ctx: NodeContext,
    announced: Announced,
    candidates: list[Candidate],
    assignments: list[Assignment],
    trail: Trail,
    attempt: int,
) -> tuple[list[Comparison], set[str]]:
    """Send each judge its tasks; the verdicts of those that replied, and who failed."""
    by_judge: dict[str, list[tuple[int, Assignment]]] = defaultdict(list)
    for task, assignment in enumerate(assignments):
        by_judge[assignment.judge].append((task, assignment))
    requests = {}
    for judge, tasks in by_judge.items():
        payload = JudgeRequestPayload(
            judge=judge,
            messages=[ChatTurn.model_validate(m) for m in announced.messages],
            tasks=[
                JudgeTask(
                    task=t,
                    first=candidates[a.first].text,
                    second=candidates[a.second].text,
                    first_digest=candidates[a.first].digest,
                    second_digest=candidates[a.second].digest,
                )
                for t, a in tasks
            ],
            attempt=attempt,
        )
        requests[judge] = sign_envelope(
            ctx.account, "judge_request", announced.round_id, payload.model_dump()
        )
        ctx.journal.append(requests[judge])
    chars = sum(
        len(m["content"])
        for a in assignments
        for m in judge_messages(
            announced.messages, candidates[a.first].text, candidates[a.second].text
        )
    )
    gathered = await fan_out(
        ctx.peers,
        PATHS["judge"],
        requests,
        judge_timeout(ctx.config, ctx.speed, chars),
        partial(_read, ctx, announced.round_id, requests, dict(by_judge), candidates),
    )
    trail.report(gathered, "judge")
    comparisons = []
    for judge in by_judge:  # in the order the judges were assigned
        if judge in gathered.replies:
            reply, found = gathered.replies[judge]
            ctx.journal.append(reply)
            comparisons += found
    return comparisons, set(gathered.failures())


def _read(
    ctx: NodeContext,
    round_id: str,
    requests: dict[str, dict[str, Any]],
    by_judge: dict[str, list[tuple[int, Assignment]]],
    candidates: list[Candidate],
    judge: str,
    reply: Any,
) -> tuple[dict[str, Any], list[Comparison]]:
    """A judge's signed verdicts, checked against its request, as comparisons."""
    if not isinstance(reply, dict) or reply.get("sender") != judge:
        raise BadReply("verdicts signed by another node")  # before the guard remembers them
    ctx.guard.check(reply, "verdict", round_id, remember=False)
    payload = payload_of(VerdictPayload, reply)
    if payload.request != digest(requests[judge]):
        raise BadReply("verdicts for another request")
    tasks = dict(by_judge[judge])
    given = [v.task for v in payload.verdicts]
    if sorted(given) != sorted(tasks):
        raise BadReply("the verdicts are not one per task of the request")
    out = []
    for v in payload.verdicts:
        a = tasks[v.task]
        if (v.first_digest, v.second_digest) != (
            candidates[a.first].digest,
            candidates[a.second].digest,
        ):
            raise BadReply(f"verdict for task {v.task} does not match the request")
        out.append(Comparison(judge, a.first, a.second, v.p_first, v.mass))
    ctx.guard.remember(reply)  # kept only once it passed: it is logged with the round
    return reply, out
