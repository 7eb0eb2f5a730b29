"""The owner's batches checked from the log (pure): each batch's leaves are the
signed results of its rounds, its root is their Merkle root, and its recorded
settlement is the one the reputation rules give for those results and the
equivocation evidence it settles (`reputation.batch_rule.settle_batch`). The
recomputed settlements are what the chain's changes are then checked against
(`reputation.audit.onchain`)."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from contracts import merkle
from contracts.settlement import Settlement
from reputation.audit.entries import Checked
from reputation.audit.findings import Finding
from reputation.batch_rule import settle_batch
from reputation.chainlog import Batch, batches, evidence_after
from reputation.envelope import EnvelopeError
from reputation.evidence import check_equivocation
from reputation.result import SwarmResult

__all__ = ["BatchAudit", "audit_batches"]


@dataclass
class BatchAudit:
    batch: Batch
    rounds: list[str]
    settlement: Settlement | None
    """As the log's results give it (None when they cannot)."""


def audit_batches(
    log: Any, owner: str, results: Mapping[str, Checked], audited: Collection[str] | None = None
) -> tuple[list[BatchAudit], list[Finding]]:
    """`results`: the owner's signed results whose signature holds, by message digest;
    `audited`: the rounds recomputed (a leaf must be one of them, when given)."""
    findings: list[Finding] = []
    out = []
    try:
        logged = batches(log)
    except (ValueError, TypeError) as exc:
        return [], [Finding("merkle", f"the log's batches do not parse: {exc}")]
    for b in logged:
        rows = log.db.execute(
            "SELECT round_id, result_digest FROM batch_rounds WHERE batch = ? ORDER BY leaf",
            [b.batch],
        ).fetchall()
        leaves = [d for _, d in rows]
        signed: list[tuple[str, SwarmResult]] = []
        for round_id, d in rows:
            found = results.get(d)
            if audited is not None and round_id not in audited:
                found = None
            if found is None or found.entry.round_id != round_id:
                findings.append(
                    Finding(
                        "merkle",
                        f"batch {b.batch}: its leaf is no signed result of the round",
                        round_id,
                    )
                )
                continue
            try:
                signed.append((d, SwarmResult.model_validate(found.message["payload"])))
            except (ValidationError, KeyError, TypeError):
                findings.append(
                    Finding(
                        "merkle", f"batch {b.batch}: its leaf's result does not parse", round_id
                    )
                )
        try:
            root = "0x" + merkle.root(leaves).hex() if leaves else None
            committed = bytes.fromhex(b.root.removeprefix("0x"))
        except (ValueError, TypeError, AttributeError):
            findings.append(Finding("merkle", f"batch {b.batch}: a digest in it is not hex"))
            out.append(BatchAudit(b, [r for r, _ in rows], None))
            continue
        if root != b.root:
            findings.append(
                Finding("merkle", f"batch {b.batch}: root {b.root} is not its leaves' {root}")
            )
        settlement = None
        if len(signed) == len(rows):
            evidence = []
            for i, first, second in evidence_after(log, b.first_evidence):
                if i > b.last_evidence:
                    break
                try:
                    evidence.append((check_equivocation(first, second), first, second))
                except EnvelopeError as exc:
                    findings.append(Finding("settlement", f"batch {b.batch}: evidence {i}: {exc}"))
            settlement = settle_batch(owner, b.batch, committed, signed, evidence)
            _compare(b, settlement, findings)
        out.append(BatchAudit(b, [r for r, _ in rows], settlement))
    return out, findings


def _compare(b: Batch, s: Settlement, findings: list[Finding]) -> None:
    recorded = b.settlement
    if recorded is None:
        return  # not settled yet
    try:
        same = _same(recorded, s)
    except (ValueError, TypeError, AttributeError, KeyError):
        same = False
    if not same:
        findings.append(
            Finding(
                "settlement",
                f"batch {b.batch}: the recorded settlement is not the one its results give",
            )
        )


def _same(recorded: dict[str, Any], s: Settlement) -> bool:
    if recorded.get("empty"):
        same = not s.changes and not s.slashes
    else:
        same = (
            [p.lower() for p in recorded.get("participants", [])]
            == [p.lower() for p in s.participants]
            and [(n.lower(), int(d)) for n, d in recorded.get("changes", [])]
            == [(n.lower(), d) for n, d in s.changes]
            and [(n.lower(), int(k), e) for n, k, e in recorded.get("slashes", [])]
            == [(x.node.lower(), x.kind, "0x" + x.evidence.hex()) for x in s.slashes]
        )
    return same
