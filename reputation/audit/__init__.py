"""The auditor's side: a consensus log recomputed from what its senders signed and
checked against the chain (`swarm audit`). Imports nothing of `node`."""

from reputation.audit.findings import CHECKS, Finding
from reputation.audit.rounds import RoundAudit
from reputation.audit.run import AuditReport, audit_log, check_against_chain

__all__ = ["CHECKS", "AuditReport", "Finding", "RoundAudit", "audit_log", "check_against_chain"]
