"""A round's judging re-derived from the log (pure): the seeded pair design and
judge assignment, each judge's request and signed verdicts, the re-assignment of
failed judges' tasks, and the verdicts as the node read them.

The node (`node.round.judging`) asks the judges the plan gives (pairs from
`design_pairs` with the result's `pairs_per_candidate`, judges the round's
answerers in address order), each with one signed request; a judge with no
verdicts to its request has its tasks re-assigned once (`assign_pairs(...,
retry=True)`) to the judges that replied. Here each logged request must be the
plan's, and the comparisons are the verdicts of the judges who replied, in the
order the node read them.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ranking.designs import Assignment
from reputation.aggregate import Comparison
from reputation.draws import assign_pairs, design_pairs
from reputation.messages import JudgeRequestPayload, VerdictPayload, payload_of
from reputation.result import DecidedBy, Parameters

if TYPE_CHECKING:
    from reputation.audit.rounds import Candidate, RoundMessages

__all__ = ["Judged", "judge"]


@dataclass(frozen=True)
class Judged:
    comparisons: list[Comparison]
    decided_by: DecidedBy

    def counts(self) -> dict[str, int]:
        return dict(Counter(c.judge for c in self.comparisons))


Fail = Callable[..., Any]


def judge(
    rid: str,
    owner: str,
    msgs: "RoundMessages",
    candidates: Sequence["Candidate"],
    parameters: Parameters,
    fail: Fail,
) -> Judged:
    requests: dict[int, dict[str, Any]] = {0: {}, 1: {}}  # attempt → judge → (message, payload)
    for m, p in msgs.parsed("judge_request", owner, JudgeRequestPayload, fail, "verdicts"):
        if p.judge in requests[p.attempt]:
            fail("verdicts", f"a second request to {p.judge}", m)
            continue
        requests[p.attempt][p.judge] = (m, p)
    if len(candidates) < 2:
        _only(requests, {}, 0, fail)
        return Judged([], "single")
    authors = [c.nodes for c in candidates]
    judges = sorted({n for c in candidates for n in c.nodes})
    pairs = design_pairs(rid, len(candidates), parameters.pairs_per_candidate)
    plan = assign_pairs(rid, pairs, authors, judges)
    if not plan.assignments:
        _only(requests, {}, 0, fail)
        return Judged([], "agreement")
    by_judge = _by_judge(plan.assignments)
    _only(requests, by_judge, 0, fail)
    prompt = msgs.of("announce", owner)[0].message["payload"]["messages"]
    comparisons, failed = _read(prompt, msgs, requests[0], by_judge, candidates, fail)
    retry_plan: dict[str, list[tuple[int, Assignment]]] = {}
    if failed:
        retry = [(a.first, a.second) for a in plan.assignments if a.judge in failed]
        others = [j for j in judges if j not in failed]
        again = [p for p in retry if p[0] < p[1]]
        retry_plan = _by_judge(assign_pairs(rid, again, authors, others, retry=True).assignments)
        more, _ = _read(prompt, msgs, requests[1], retry_plan, candidates, fail)
        comparisons += more
    _only(requests, retry_plan, 1, fail)
    judged = {c.first for c in comparisons} | {c.second for c in comparisons}
    if len(judged) < len(candidates):
        fail("verdicts", "a candidate got no verdict, yet the round has a result")
    return Judged(comparisons, "judges")


def _by_judge(assignments: Sequence[Assignment]) -> dict[str, list[tuple[int, Assignment]]]:
    out: dict[str, list[tuple[int, Assignment]]] = defaultdict(list)
    for task, a in enumerate(assignments):
        out[a.judge].append((task, a))
    return dict(out)


def _only(
    requests: dict[int, dict[str, Any]],
    plan: dict[str, list[tuple[int, Assignment]]],
    attempt: int,
    fail: Fail,
) -> None:
    """Every judge the plan asks has a request, and no one else has."""
    for j in sorted(set(requests[attempt]) - set(plan)):
        fail(
            "draw",
            f"judge {j} was asked (attempt {attempt}), not the seeded plan's",
            requests[attempt][j][0],
        )
    for j in sorted(set(plan) - set(requests[attempt])):
        fail("draw", f"the seeded plan asks judge {j} (attempt {attempt}); no request is logged")


def _read(
    announced: list[dict[str, Any]],
    msgs: "RoundMessages",
    requests: dict[str, Any],
    plan: dict[str, list[tuple[int, Assignment]]],
    candidates: Sequence["Candidate"],
    fail: Fail,
) -> tuple[list[Comparison], set[str]]:
    """The verdicts of the plan's judges who replied, and who did not."""
    out: list[Comparison] = []
    failed: set[str] = set()
    for judge, tasks in plan.items():
        if judge not in requests:
            failed.add(judge)
            continue
        request, payload = requests[judge]
        expected = [(t, candidates[a.first].digest, candidates[a.second].digest) for t, a in tasks]
        asked = [(t.task, t.first_digest, t.second_digest) for t in payload.tasks]
        texts = all(
            (t.first, t.second) == (candidates[a.first].text, candidates[a.second].text)
            for t, (_, a) in zip(payload.tasks, tasks, strict=False)
        )
        prompt = [m.model_dump() for m in payload.messages]
        if asked != expected or not texts or prompt != announced:
            fail("draw", f"the request to {judge} is not the seeded plan's tasks", request)
        found = [
            m
            for m in msgs.of("verdict", judge.lower())
            if m.message["payload"].get("request") == request.digest
        ]
        if not found:
            failed.add(judge)  # no verdicts: the node re-assigns its tasks
            continue
        try:
            v = payload_of(VerdictPayload, found[0].message)
        except (ValueError, TypeError, KeyError) as exc:
            fail("verdicts", f"{judge}'s verdicts do not parse: {exc}", found[0])
            failed.add(judge)
            continue
        by_task = dict(tasks)
        if sorted(x.task for x in v.verdicts) != sorted(by_task):
            fail("verdicts", f"{judge}'s verdicts are not one per task of its request", found[0])
            continue
        for x in v.verdicts:
            a = by_task[x.task]
            if (x.first_digest, x.second_digest) != (
                candidates[a.first].digest,
                candidates[a.second].digest,
            ):
                fail("verdicts", f"{judge}'s verdict on task {x.task} names other texts", found[0])
            out.append(Comparison(judge, a.first, a.second, x.p_first, x.mass))
    return out, failed
