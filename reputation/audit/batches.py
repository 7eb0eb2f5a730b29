"""The owner's batches checked from the log (pure): each batch's leaves are the
signed results of its rounds, its root is their Merkle root, and its recorded
settlement is the one the reputation rules give for those results and the
equivocation evidence it settles (`reputation.batch_rule.settle_batch`). The
recomputed settlements are what the chain's changes are then checked against
(`reputation.audit.onchain`).

The tables are read type-checked (`reputation.audit.tables`) and every JSON column
bounded (`reputation.bounded`): a row of the wrong type is a `columns` finding and
left out (its batch's root then no longer adds up), a settlement or an evidence
message that does not parse is a finding of its batch; no row stops the others."""

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from contracts import merkle
from contracts.settlement import Settlement
from reputation.audit.entries import Checked
from reputation.audit.findings import Finding
from reputation.audit.tables import Row, read_rows
from reputation.batch_rule import settle_batch
from reputation.bounded import JsonRefused, loads
from reputation.chainlog import Batch
from reputation.envelope import EnvelopeError
from reputation.evidence import check_equivocation
from reputation.log import MAX_RAW_BYTES
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
    logged = _batches(log, findings)
    leaves_of = _leaves(log, findings, {b.batch for b in logged})
    evidence = _evidence(log, findings)
    for b in logged:
        rows = leaves_of.get(b.batch, [])
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
            proofs = []
            for i, pair in evidence:
                if not b.first_evidence < i <= b.last_evidence:
                    continue
                first, second = pair
                try:
                    proofs.append((check_equivocation(first, second), first, second))
                except (EnvelopeError, ValueError, TypeError, KeyError, AttributeError) as exc:
                    findings.append(Finding("settlement", f"batch {b.batch}: evidence {i}: {exc}"))
            settlement = settle_batch(owner, b.batch, committed, signed, proofs)
            _compare(b, settlement, findings)
        out.append(BatchAudit(b, [r for r, _ in rows], settlement))
    return out, findings


class _Unparsed(dict[str, Any]):
    """A recorded settlement that is not a JSON object: never the same as any."""


def _columns(row: Row) -> Finding:
    return Finding("columns", f"{row.where()}: {'; '.join(row.problems)}")


def _batches(log: Any, findings: list[Finding]) -> list[Batch]:
    out = []
    for row in read_rows(log.db, "batches"):
        if not row.ok:
            findings.append(_columns(row))
            continue
        v = dict(row.values)
        if v["settlement"] is not None:
            try:
                v["settlement"] = loads(v["settlement"], MAX_RAW_BYTES)
            except JsonRefused as exc:
                findings.append(
                    Finding("settlement", f"batch {v['batch']}: the recorded settlement: {exc}")
                )
                v["settlement"] = _Unparsed()
            if not isinstance(v["settlement"], dict):
                v["settlement"] = _Unparsed()
        out.append(Batch(**v))
    return out


def _leaves(log: Any, findings: list[Finding], known: set[int]) -> dict[int, list[tuple[str, str]]]:
    """Batch → its (round id, result digest) in leaf order."""
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for row in read_rows(log.db, "batch_rounds"):
        if not row.ok:
            findings.append(_columns(row))
            continue
        v = row.values
        if v["batch"] not in known:
            findings.append(
                Finding(
                    "merkle",
                    f"a leaf of batch {v['batch']}, which the log does not hold",
                    v["round_id"],
                )
            )
        out[v["batch"]].append((v["round_id"], v["result_digest"]))
    return out


def _evidence(log: Any, findings: list[Finding]) -> list[tuple[int, tuple[Any, Any]]]:
    """Each evidence row that reads: (id, (first, second)); a finding for the others
    (one left out of its batch then shows in the batch's settlement)."""
    out = []
    for row in read_rows(log.db, "evidence"):
        if not row.ok:
            findings.append(_columns(row))
            continue
        v = row.values
        try:
            pair = (loads(v["first"], MAX_RAW_BYTES), loads(v["second"], MAX_RAW_BYTES))
        except JsonRefused as exc:
            findings.append(Finding("columns", f"{row.where()}: a message of it: {exc}"))
            continue
        out.append((v["id"], pair))
    return out


def _compare(b: Batch, s: Settlement, findings: list[Finding]) -> None:
    recorded = b.settlement
    if recorded is None:
        return  # not settled yet
    try:
        same = not isinstance(recorded, _Unparsed) and _same(recorded, s)
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
