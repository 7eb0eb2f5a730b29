"""The log's entries, each checked on its own: column types, hash chain, signature,
header columns.

Unlike `reputation.log.verify_log`, which stops at the first fault, this reads every
entry and reports each fault as a `Finding`; a message whose signature does not
hold is left out of everything the audit recomputes (it is no one's word).

Rows are read type-checked (`reputation.audit.tables`): a row with a column of the
wrong type (a BLOB or an integer `raw`, text that is not UTF-8, a NULL) is a
`columns` finding, and its link digest still carries the hash chain on when it is
text, so one bad row is one finding, not one per later entry. A round id that is
not `0x` and 64 lower-case hex digits is a `round_id` finding and never shown. Raw
messages are parsed bounded in size and depth (`reputation.bounded`, limit
`reputation.log.MAX_RAW_BYTES`): a `raw` of 100 KB of `[` is a finding, not a C
stack overflow.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from reputation.audit.findings import Finding
from reputation.audit.tables import Row, is_round_id, read_rows
from reputation.bounded import JsonRefused, loads
from reputation.envelope import EnvelopeError, recover_sender
from reputation.log import GENESIS, MAX_RAW_BYTES, LogEntry, link

__all__ = ["Checked", "check_entries", "read_entries"]


@dataclass(frozen=True)
class Checked:
    entry: LogEntry
    message: dict[str, Any]
    digest: str
    """keccak of the raw message: how other messages and results name it."""


def read_entries(log: Any) -> list[LogEntry | Row]:
    """Every `messages` row of `log` (a `ConsensusLog`) in order: a `LogEntry` when each
    column has its type, else the `Row` with its problems."""
    out: list[LogEntry | Row] = []
    for row in read_rows(log.db, "messages"):
        out.append(LogEntry(**row.values) if row.ok else row)
    return out


def check_entries(entries: Iterable[LogEntry | Row]) -> tuple[list[Checked], list[Finding]]:
    """The entries whose message is signed by its sender, and a finding per fault."""
    good: list[Checked] = []
    findings: list[Finding] = []
    prev: str | None = GENESIS
    for entry in entries:
        if isinstance(entry, Row):
            seq = entry.values.get("seq")
            findings.append(
                Finding(
                    "columns",
                    f"{entry.where()}: {'; '.join(entry.problems)}",
                    None,
                    seq if isinstance(seq, int) else None,
                )
            )
            digest = entry.values.get("digest")
            prev = digest if isinstance(digest, str) else None
            continue
        rid = entry.round_id if is_round_id(entry.round_id) else None

        def found(check: str, message: str, e: LogEntry = entry, r: str | None = rid) -> None:
            findings.append(Finding(check, message, r, e.seq))

        message_digest = "0x" + keccak(entry.raw.encode("utf-8")).hex()
        if entry.message_digest != message_digest:
            found("hash_chain", "the stored digest is not the digest of the stored message")
        if prev is not None and entry.prev_digest != prev:
            found("hash_chain", "the link to the entry before is broken (dropped or moved)")
        elif entry.digest != _link(entry.prev_digest, entry.message_digest):
            found("hash_chain", "the entry's link digest is wrong")
        prev = entry.digest
        if entry.round_id is not None and rid is None:
            found("round_id", "the entry's round id is not 0x and 64 lower-case hex digits")
            continue
        try:
            message = loads(entry.raw, MAX_RAW_BYTES)
        except JsonRefused as exc:
            found("signature", f"{entry.type} from {entry.sender}: the raw message: {exc}")
            continue
        try:
            sender = recover_sender(message)
        except (ValueError, TypeError, KeyError, AttributeError, EnvelopeError) as exc:
            found("signature", f"{entry.type} from {entry.sender}: {exc}")
            continue
        if sender.lower() != str(message.get("sender", "")).lower():
            found("signature", f"{entry.type} claims sender {message.get('sender')}")
            continue
        columns = (entry.sender, entry.type, entry.round_id, entry.timestamp)
        signed = (sender, message.get("type"), message.get("round_id"), message.get("timestamp"))
        if columns != signed:
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
