"""The log's entries, each checked on its own: hash chain, signature, header columns.

Unlike `reputation.log.verify_log`, which stops at the first fault, this reads every
entry and reports each fault as a `Finding`; a message whose signature does not
hold is left out of everything the audit recomputes (it is no one's word).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from reputation.audit.findings import Finding
from reputation.envelope import EnvelopeError, recover_sender
from reputation.log import GENESIS, LogEntry, link

__all__ = ["Checked", "check_entries"]


@dataclass(frozen=True)
class Checked:
    entry: LogEntry
    message: dict[str, Any]
    digest: str
    """keccak of the raw message: how other messages and results name it."""


def check_entries(entries: Iterable[LogEntry]) -> tuple[list[Checked], list[Finding]]:
    """The entries whose message is signed by its sender, and a finding per fault."""
    good: list[Checked] = []
    findings: list[Finding] = []
    prev = GENESIS
    for entry in entries:
        rid = entry.round_id

        def found(check: str, message: str, e: LogEntry = entry, r: str | None = rid) -> None:
            findings.append(Finding(check, message, r, e.seq))

        message_digest = "0x" + keccak(entry.raw.encode("utf-8")).hex()
        if entry.message_digest != message_digest:
            found("hash_chain", "the stored digest is not the digest of the stored message")
        if entry.prev_digest != prev:
            found("hash_chain", "the link to the entry before is broken (dropped or moved)")
        elif entry.digest != _link(prev, entry.message_digest):
            found("hash_chain", "the entry's link digest is wrong")
        prev = entry.digest
        try:
            message = json.loads(entry.raw)
            sender = recover_sender(message)
        except (ValueError, TypeError, KeyError, EnvelopeError) as exc:
            found("signature", f"{entry.type} from {entry.sender}: {exc}")
            continue
        if sender.lower() != str(message.get("sender", "")).lower():
            found("signature", f"{entry.type} claims sender {message.get('sender')}")
            continue
        columns = (entry.sender, entry.type, entry.round_id)
        if columns != (sender, message.get("type"), message.get("round_id")):
            found("signature", "the log's columns differ from the signed message")
            continue
        good.append(Checked(entry, message, message_digest))
    return good, findings


def _link(prev: str, message_digest: str) -> str | None:
    """The link digest, or None when either digest is not hex (a tampered column)."""
    try:
        return link(prev, message_digest)
    except (ValueError, TypeError, AttributeError):
        return None
