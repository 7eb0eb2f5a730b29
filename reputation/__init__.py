"""Signed messages and their schemas, the consensus log, judges' records, the seeded
draws of a round and equivocation evidence (later: reputation rules, proof-of-capability
and the audit). Imports nothing from `node`."""

from reputation.envelope import (
    EnvelopeError,
    InvalidSignature,
    canonical,
    digest,
    recover_sender,
    sign_envelope,
)
from reputation.log import ConsensusLog, LogEntry, LogError, verify_chain, verify_log

__all__ = [
    "ConsensusLog",
    "EnvelopeError",
    "InvalidSignature",
    "LogEntry",
    "LogError",
    "canonical",
    "digest",
    "recover_sender",
    "sign_envelope",
    "verify_chain",
    "verify_log",
]
