"""One round recomputed from its logged messages (pure, no I/O).

A round of the log's owner is re-derived from what others signed, never from the
owner's word alone: its id from the announced request and nonce, its
participants from the seeded draw with the announced weights, its topic from the
owner's clusters of the time, its candidates from the answers' texts, its pair
design and judges from the seed (`reputation.audit.judging`), its ranking refitted
from the judges' signed verdicts with the judges' records the log gives, and its
verification outcomes from the verifiers' signed votes
(`reputation.audit.verifying`). The owner's signed result must say the same;
each difference is a `Finding`. A round whose structure already differs (other
answers, other candidates) is not refitted: one finding says where it parts.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ranking.consensus import JudgeRecord
from reputation.aggregate import Ranked, rank
from reputation.audit.entries import Checked
from reputation.audit.findings import Finding
from reputation.audit.judging import Judged, judge
from reputation.audit.verifying import verify
from reputation.draws import announced_by, draw_participants, text_digest
from reputation.envelope import EnvelopeError, digest
from reputation.epoch import infer_topic
from reputation.messages import AnnouncePayload, AnswerPayload, payload_of
from reputation.result import SwarmResult
from reputation.topics import TopicModel
from verification.grouping import group_near
from verification.signatures import shingles, signatures

__all__ = ["TOLERANCE", "Candidate", "RoundAudit", "RoundMessages", "audit_round"]

TOLERANCE = 1e-4
"""Largest difference allowed between a refitted number and the signed one: the
result rounds to 1e-6, and the fit is an optimizer whose last digits may differ
between machines."""


@dataclass
class RoundMessages:
    """A round's signed messages, in log order."""

    round_id: str
    messages: list[Checked] = field(default_factory=list)

    def of(self, kind: str, sender: str | None = None) -> list[Checked]:
        return [
            m
            for m in self.messages
            if m.entry.type == kind and (sender is None or m.entry.sender.lower() == sender)
        ]

    def parsed(
        self, kind: str, sender: str, model: Any, fail: Any, check: str
    ) -> list[tuple[Checked, Any]]:
        """`sender`'s messages of `kind` with their payloads; one that does not parse
        is a finding of `check`, and left out."""
        out = []
        for m in self.of(kind, sender):
            try:
                out.append((m, payload_of(model, m.message)))
            except (ValueError, TypeError, KeyError) as exc:
                fail(check, f"a {kind} does not parse: {exc}", m)
        return out


@dataclass(frozen=True)
class Candidate:
    index: int
    nodes: list[str]
    answers: list[str]
    digest: str
    text: str
    temperature: float


@dataclass
class RoundAudit:
    round_id: str
    seq: int
    time: float
    coordinator: str
    result: SwarmResult | None = None
    ranked: Ranked | None = None
    findings: list[Finding] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    """What could not be checked, and why (an older version's result, say)."""
    messages: list[Checked] = field(default_factory=list)


class Stop(Exception):
    """The round parts from its result here; later steps are not recomputed."""


def audit_round(
    msgs: RoundMessages,
    owner: str,
    records: Mapping[str, JudgeRecord],
    topics: TopicModel | None,
    topics_known: bool,
) -> RoundAudit | None:
    """Recompute one of `owner`'s rounds (None if `owner` did not announce it)."""
    announces = msgs.of("announce", owner)
    if not announces:
        return None
    announce = announces[0]
    audit = RoundAudit(
        msgs.round_id,
        announce.entry.seq,
        announce.entry.timestamp,
        announce.entry.sender,
        messages=msgs.messages,
    )
    if len(announces) > 1:
        audit.findings.append(
            Finding(
                "answers",
                "the owner announced this round twice",
                msgs.round_id,
                announces[1].entry.seq,
            )
        )
    try:
        _audit(audit, msgs, owner, announce, records, topics, topics_known)
    except Stop:
        pass
    except Exception as exc:  # a tampered round the recomputation cannot even read
        audit.findings.append(
            Finding(
                "answers",
                f"the round cannot be recomputed: {type(exc).__name__}: {exc}",
                msgs.round_id,
            )
        )
    return audit


def _audit(
    audit: RoundAudit,
    msgs: RoundMessages,
    owner: str,
    announce: Checked,
    records: Mapping[str, JudgeRecord],
    topics: TopicModel | None,
    topics_known: bool,
) -> None:
    rid = msgs.round_id

    def fail(check: str, message: str, at: Checked | None = None) -> Finding:
        finding = Finding(check, message, rid, at.entry.seq if at else None)
        audit.findings.append(finding)
        return finding

    a = _payload(AnnouncePayload, announce, fail)
    prompt = announce.message["payload"]["messages"]
    if not announced_by(rid, prompt, a.max_tokens, announce.entry.sender, a.nonce):
        fail("round_id", "the round id is not keccak(request, coordinator, nonce)", announce)
    if a.prompt_hash != digest(prompt):
        fail("round_id", "the announced prompt hash is not the prompt's", announce)
    if a.draw_size:
        drawn = draw_participants(rid, list(a.weights), a.draw_size, a.weights)
        if drawn != a.participants:
            fail("draw", f"participants {a.participants} are not the seeded draw {drawn}", announce)
    else:
        audit.unchecked.append("participants: the announcement has no draw size (older version)")
    if topics_known and a.topic_source != "client":
        expected = infer_topic(topics, prompt)
        if (a.topic, a.topic_source) != expected:
            fail("topic", f"topic {a.topic!r} ({a.topic_source or 'none'}), not {expected}")
    results = msgs.of("result", owner)
    if not results:
        return  # a failed round: its messages were checked one by one
    result_msg = results[0]
    for extra in results[1:]:
        fail("answers", "a second result of the round", extra)
    result = _payload(SwarmResult, result_msg, fail)
    audit.result = result
    if (
        result.announce != announce.digest
        or result.prompt_hash != a.prompt_hash
        or result.round_id != rid
        or result.coordinator.lower() != owner
        or (result.topic, result.topic_source) != (a.topic, a.topic_source)
    ):
        fail(
            "answers",
            "the result names another announcement, round, coordinator or topic",
            result_msg,
        )
        raise Stop
    candidates = _candidates(msgs, a, announce, result, fail)
    if result.parameters is None:
        audit.unchecked.append("draws and refit: the result states no parameters (older version)")
        return
    judged = judge(rid, owner, msgs, candidates, result.parameters, fail)
    ranked = rank(
        [len(c.nodes) for c in candidates], judged.comparisons, judged.decided_by, records
    )
    audit.ranked = ranked
    _ranking(result, ranked, judged, records, fail, result_msg)
    winner = verify(rid, owner, msgs, a, candidates, ranked, result, fail)
    w = result.winner
    status = next((o.status for o in result.verification if o.candidate == winner), None)
    if winner is not None and (w.candidate, w.node, w.digest, w.verification) != (
        winner,
        candidates[winner].nodes[0],
        candidates[winner].digest,
        status or "not_requested",
    ):
        fail(
            "winner",
            f"the result names candidate {w.candidate}; the log gives {winner}",
            result_msg,
        )


def _payload(model: Any, message: Checked, fail: Any) -> Any:
    try:
        return payload_of(model, message.message)
    except (EnvelopeError, KeyError, TypeError) as exc:
        fail("answers", f"{message.entry.type} does not parse: {exc}", message)
        raise Stop from exc


def _candidates(
    msgs: RoundMessages,
    a: AnnouncePayload,
    announce: Checked,
    result: SwarmResult,
    fail: Any,
) -> list[Candidate]:
    """The round's candidates as its answers' texts group them, checked against the
    result's."""
    by_sender: dict[str, Checked] = {}
    for m in msgs.of("answer"):
        sender = m.entry.sender
        if sender in by_sender:
            fail("answers", f"a second answer from {sender}", m)
            continue
        if sender not in a.participants:
            fail("answers", f"an answer from {sender}, not a participant", m)
            continue
        p = _payload(AnswerPayload, m, fail)
        if p.announce != announce.digest or p.prompt_hash != a.prompt_hash:
            fail("answers", f"{sender}'s answer is for another announcement", m)
        if p.model != a.model or len(p.token_ids) > a.max_tokens:
            fail("answers", f"{sender}'s answer claims another model or too many tokens", m)
        by_sender[sender] = m
    answers = [by_sender[p] for p in a.participants if p in by_sender]  # the node's order
    texts = [str(m.message["payload"]["text"]) for m in answers]
    groups = group_near(texts, signatures(texts), [len(shingles(t)) for t in texts])
    out = [
        Candidate(
            index=i,
            nodes=[answers[g].entry.sender for g in group],
            answers=[answers[g].digest for g in group],
            digest=text_digest(texts[group[0]]),
            text=texts[group[0]],
            temperature=float(answers[group[0]].message["payload"]["sampling"]["temperature"]),
        )
        for i, group in enumerate(groups)
    ]
    signed = [(c.nodes, c.answers, c.digest) for c in result.candidates]
    if [c.candidate for c in result.candidates] != list(
        range(len(result.candidates))
    ) or signed != [(c.nodes, c.answers, c.digest) for c in out]:
        fail(
            "candidates",
            f"the result's {len(signed)} candidates are not the {len(out)} the logged "
            "answers' texts make",
        )
        raise Stop
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE


def _ranking(
    result: SwarmResult,
    ranked: Ranked,
    judged: Judged,
    records: Mapping[str, JudgeRecord],
    fail: Any,
    at: Checked,
) -> None:
    if result.decided_by != ranked.decided_by:
        fail("ranking", f"decided by {result.decided_by}; the log gives {ranked.decided_by}", at)
    for c in result.candidates:
        i = c.candidate
        mine = (ranked.scores[i], ranked.stderr[i], *ranked.interval[i])
        if not all(map(_close, (c.score, c.stderr, *c.interval), mine)):
            fail(
                "ranking",
                f"candidate {i}: score {c.score} ± {c.stderr}; the verdicts give "
                f"{ranked.scores[i]:.6f} ± {ranked.stderr[i]:.6f}",
                at,
            )
    counts = judged.counts()
    signed_judges = {j.node: j for j in result.judges}
    if len(signed_judges) != len(result.judges):
        fail("ranking", "the result lists a judge twice (its points would count twice)", at)
    if set(signed_judges) != set(counts):
        fail("ranking", f"judges {sorted(signed_judges)}; the verdicts come from {sorted(counts)}")
        return
    for node, j in signed_judges.items():
        record = records.get(node, JudgeRecord())
        if not (_close(j.prior[0], record.agreed) and _close(j.prior[1], record.disagreed)):
            fail(
                "records",
                f"judge {node}: record {j.prior}; the log's earlier results give "
                f"({record.agreed:.6f}, {record.disagreed:.6f})",
                at,
            )
        agreed, disagreed = ranked.agreement.get(node, (0.0, 0.0))
        fitted = (ranked.reliability.get(node, 0.0), agreed, disagreed)
        if j.verdicts != counts[node] or not all(
            map(_close, (j.reliability, j.agreed, j.disagreed), fitted)
        ):
            fail(
                "ranking",
                f"judge {node}: {j.verdicts} verdicts, reliability {j.reliability}; the log "
                f"gives {counts[node]}, {fitted[0]:.6f}",
                at,
            )
