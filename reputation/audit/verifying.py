"""A round's verification re-derived from the log (pure): who was drawn to verify
each candidate, their signed votes, each outcome's majority, and the winner.

The node (`node.round.verifying`) tries candidates in score order until one does
not fail, then verifies a seeded sample of the others. For each candidate it
signs one request naming the pool and the verifiers drawn from it
(`draw_verifiers` with the announced weights); each verifier's signed reply is a
vote: a signed refusal of the claim votes against, otherwise
`verification.policy.accept` over its method results. The majority decides
(`verification.base.majority`); with no vote the candidate is `unverified` and
stands. Here every step is redone from the logged messages, and the result's
outcomes must be the same.
"""

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from reputation.aggregate import Ranked
from reputation.draws import draw_verifiers, sample_others
from reputation.envelope import digest
from reputation.messages import (
    REFUSAL,
    AnnouncePayload,
    VerificationPayload,
    VerifyRequestPayload,
    payload_of,
)
from reputation.result import SwarmResult
from verification.base import majority
from verification.policy import accept

if TYPE_CHECKING:
    from reputation.audit.rounds import Candidate, RoundMessages

__all__ = ["verify"]

STATUS = {True: "passed", False: "failed", None: "unverified"}
Fail = Callable[..., Any]


def verify(
    rid: str,
    owner: str,
    msgs: "RoundMessages",
    announce: AnnouncePayload,
    candidates: Sequence["Candidate"],
    ranked: Ranked,
    result: SwarmResult,
    fail: Fail,
) -> int | None:
    """The winner the logged votes give (None if the round cannot say)."""
    params = result.parameters
    assert params is not None
    if not params.verify:
        if result.verification:
            fail("verification", "verification was off, yet the result lists outcomes")
        return ranked.order[0]
    flagged = {f.answer for f in result.copy_flags}
    requests: dict[str, Any] = {}
    for m, p in msgs.parsed("verify_request", owner, VerifyRequestPayload, fail, "verification"):
        if p.subject in requests:
            fail("verification", "a second verify request for one answer", m)
            continue
        requests[p.subject] = (m, p)
    if len({o.candidate for o in result.verification}) != len(result.verification):
        fail("verification", "the result lists a candidate's outcome twice")
    signed = {o.candidate: o for o in result.verification}
    check = partial(
        _outcome, rid, msgs, announce, result.announce, requests, params, flagged, signed, fail
    )
    tried: list[int] = []
    winner = None
    for c in ranked.order:
        tried.append(c)
        status = check(candidates[c])
        if status != "failed":
            winner = c
            break
    if winner is None:
        fail("winner", "every candidate failed verification, yet the round has a result")
        return None
    others = sample_others(rid, ranked.order, set(tried), params.sample_rate)
    for c in others:
        check(candidates[c])
    expected = set(tried) | set(others)
    used = {candidates[c].answers[0] for c in expected}
    for subject in sorted(set(requests) - used):
        fail(
            "verification",
            "a verify request for an answer that was not to be verified",
            requests[subject][0],
        )
    if set(signed) != expected:
        fail(
            "verification",
            f"outcomes for candidates {sorted(signed)}; the seeded order and sample give "
            f"{sorted(expected)}",
        )
    return winner


def _outcome(
    rid: str,
    msgs: "RoundMessages",
    announce: AnnouncePayload,
    announce_digest: str,
    requests: dict[str, Any],
    params: Any,
    flagged: set[str],
    signed: dict[int, Any],
    fail: Fail,
    candidate: "Candidate",
) -> str:
    """The status the logged votes give one candidate, checked against the result's."""
    subject = candidate.answers[0]
    votes: list[tuple[str, bool]] = []
    if subject in requests:
        request, p = requests[subject]
        pool = [a for a in p.pool]
        if announce.weights and not set(pool) <= set(announce.weights):
            fail(
                "draw",
                f"candidate {candidate.index}: verifiers drawn from outside the round's pool",
                request,
            )
        drawn = draw_verifiers(
            rid, candidate.index, pool, candidate.nodes, params.verifiers, announce.weights
        )
        if drawn != p.verifiers:
            fail(
                "draw",
                f"candidate {candidate.index}: verifiers {p.verifiers}, not the seeded {drawn}",
                request,
            )
        temperature = candidate.temperature
        again = temperature > 0.0 and params.reexecute != "never"
        methods = ["teacher_forced", "reexecution"] if again else ["teacher_forced"]
        is_flagged = subject in flagged
        mode = "always" if params.reexecute == "always" or is_flagged else "decisive"
        if (
            list(p.methods) != methods
            or digest(p.answer) != subject
            or p.reexecute != mode
            or p.announce is None
            or digest(p.announce) != announce_digest
        ):
            fail(
                "verification",
                f"candidate {candidate.index}: the request asks other checks",
                request,
            )
        for verifier in p.verifiers:
            found = [
                m
                for m in msgs.of("verification", verifier.lower())
                if m.message["payload"].get("request") == request.digest
            ]
            if not found:
                continue  # abstained: unreachable, or no usable reply
            try:
                v = payload_of(VerificationPayload, found[0].message)
            except (ValueError, TypeError, KeyError) as exc:
                fail("verification", f"{verifier}'s vote does not parse: {exc}", found[0])
                continue
            if v.subject != subject:
                fail("verification", f"{verifier}'s vote is on another answer", found[0])
                continue
            if any(r.method == REFUSAL for r in v.results):
                votes.append((verifier, False))
            else:
                results = {r.method: r.model_dump() for r in v.results}
                votes.append((verifier, accept(results, temperature, is_flagged)))
    status = STATUS[majority([passed for _, passed in votes])]
    outcome = signed.get(candidate.index)
    if outcome is None:
        fail("verification", f"candidate {candidate.index} was to be verified; no outcome")
        return status
    given = [(v.node, v.passed) for v in outcome.verifiers]
    if outcome.status != status or given != votes:
        fail(
            "verification",
            f"candidate {candidate.index}: {outcome.status} by {given}; the logged votes "
            f"give {status} by {votes}",
        )
    return status
