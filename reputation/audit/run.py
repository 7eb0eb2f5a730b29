"""`audit`: a consensus log checked end to end, optionally against the chain.

1. every entry: hash chain, signature, columns (`reputation.audit.entries`);
2. every round of the log's owner, recomputed in log order with the records and
   topic clusters it had (`reputation.audit.replay`, `reputation.audit.rounds`);
3. every batch: leaves, root and settlement from the log (`reputation.audit.batches`);
4. with a chain: registrations, roots and reputation changes on chain
   (`reputation.audit.onchain`).

The owner is the node whose log it is (`ConsensusLog.owner`: the signer of its
epochs, else the coordinator of its rounds), unless named. `start`/`end` limit
which rounds are recomputed (by their announcement's time); the records are still
replayed from the start of the log, and every entry's hash link and signature is
checked whatever the range.

No log stops an audit: every row is read type-checked and every JSON column
bounded (`reputation.audit.tables`, `reputation.bounded`), each fault is a finding
of its entry, and a stage that fails on what the log holds anyway (a bug this code
did not foresee) is a finding too, so the report is never "clean" when something
could not be checked. Only what the auditor asked for (a bad `--owner`) and an
unreadable file are errors.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from contracts.client import Chain
from reputation.audit.batches import BatchAudit, audit_batches
from reputation.audit.entries import Checked, check_entries, read_entries
from reputation.audit.findings import Finding
from reputation.audit.onchain import check_chain, read_chain
from reputation.audit.replay import replay
from reputation.audit.rounds import RoundAudit
from reputation.audit.tables import Row, read_rows
from reputation.bounded import JsonRefused, loads
from reputation.log import MAX_RAW_BYTES, ConsensusLog, LogEntry
from swarm_errors import SwarmError

__all__ = ["AuditInputError", "AuditReport", "audit_log", "check_against_chain"]


class AuditInputError(SwarmError, ValueError):
    """What the auditor asked for cannot be audited as asked."""


@dataclass
class AuditReport:
    path: str
    owner: str | None
    messages: int
    rounds: list[RoundAudit] = field(default_factory=list)
    batches: list[BatchAudit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    """Findings about the log as a whole and its batches (each round holds its own)."""
    chain: str | None = None
    """The contract checked against, if any."""
    seconds: float = 0.0
    checked: list[Checked] = field(default_factory=list, repr=False)
    """The entries whose signature holds (what the chain checks read)."""

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *(f for r in self.rounds for f in r.findings)]

    @property
    def clean(self) -> bool:
        return not self.all_findings()


def audit_log(
    log: ConsensusLog,
    owner: str | None = None,
    start: float | None = None,
    end: float | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> AuditReport:
    began = time.perf_counter()
    if owner:
        try:
            owner = to_checksum_address(owner)
        except ValueError as exc:
            raise AuditInputError(f"the owner {owner!r} is not an address") from exc
    entries = read_entries(log)
    checked, findings = check_entries(entries)
    owner = owner or _owner(entries, _rounds_table(log, findings), findings)
    report = AuditReport(str(log.path), owner, len(entries), findings=findings)
    if owner is None:
        report.seconds = time.perf_counter() - began
        return report  # no round of anyone's to recompute

    def wanted(c: Any) -> bool:
        t = c.entry.timestamp
        return (start is None or t >= start) and (end is None or t <= end)

    try:
        report.rounds, between = replay(checked, owner, log, wanted, progress)
        report.findings += between
    except Exception as exc:
        report.findings.append(_failed("answers", "the rounds", exc))
    results = {
        c.digest: c
        for c in checked
        if c.entry.type == "result" and c.entry.sender.lower() == owner.lower()
    }
    audited = {r.round_id for r in report.rounds if r.result is not None}
    try:
        report.batches, more = audit_batches(log, owner, results, audited)
        report.findings += more
    except Exception as exc:
        report.findings.append(_failed("merkle", "the batches", exc))
    report.checked = checked
    report.seconds = time.perf_counter() - began
    return report


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _failed(check: str, what: str, exc: Exception) -> Finding:
    return Finding(check, f"{what} could not be checked: {type(exc).__name__}: {exc}")


def _rounds_table(log: ConsensusLog, findings: list[Finding]) -> list[Row]:
    """The `rounds` rows whose columns have their types and whose result is JSON; a
    finding for each other one."""
    good = []
    for row in read_rows(log.db, "rounds"):
        if row.ok:
            try:
                loads(row.values["result"], MAX_RAW_BYTES)
            except JsonRefused as exc:
                row.problems.append(f"result is not JSON within bounds: {exc}")
        if row.ok:
            good.append(row)
        else:
            findings.append(Finding("columns", f"{row.where()}: {'; '.join(row.problems)}"))
    return good


def _owner(entries: list[LogEntry | Row], rounds: list[Row], findings: list[Finding]) -> str | None:
    """As `ConsensusLog.owner`, from the rows that read: the sender of the latest
    epoch, else the coordinator of the latest round; None (and a finding) when that
    is not an address."""
    epochs = [e for e in entries if isinstance(e, LogEntry) and e.type == "epoch"]
    if epochs:
        found = epochs[-1].sender
    elif rounds:
        found = max(rounds, key=lambda r: r.values["created"]).values["coordinator"]
    else:
        return None
    if _ADDRESS.fullmatch(found) is None:
        findings.append(
            Finding(
                "signature",
                "the log's owner (its latest epoch's sender or "
                "round's coordinator) is not an address",
            )
        )
        return None
    return str(found)


async def check_against_chain(report: AuditReport, chain: Chain) -> None:
    """Add the chain's findings to `report` (`ChainError` if the chain cannot be read)."""
    began = time.perf_counter()
    if report.owner is None:
        return
    facts = await read_chain(chain, report.owner, [b.batch.batch for b in report.batches])
    report.findings += check_chain(facts, report.checked, report.batches, report.owner)
    report.chain = facts.contract
    report.seconds += time.perf_counter() - began
