"""The consensus log: an append-only, hash-chained SQLite file per node.

Every signed protocol message is stored raw (its canonical JSON bytes, as a
UTF-8 string) in `messages` with

- `message_digest` = keccak256(raw),
- `prev_digest`    = the `digest` of the row before (32 zero bytes for the first),
- `digest`         = keccak256(prev_digest ‖ message_digest),

so changing, dropping or reordering any row breaks every later `digest`.
`verify_chain` recomputes the chain. Round results go in `rounds`
(`reputation.result.StoredRound`), and pairs of messages that prove
equivocation in `evidence` (`reputation.evidence`).

Writes come as a batch of operations (`Append`, `RecordRound`,
`RecordEvidence`) applied in one transaction, so a writer that gathers what a
phase of a round produced commits it once (`write`); `append` is a batch of
one. The same signed message appended twice is stored once.

The file uses WAL mode; the schema changes only through `MIGRATIONS`, applied in
order at open and recorded in `PRAGMA user_version`. A `ConsensusLog` is one
SQLite connection: use it from one thread (the node's log writer thread owns it).
"""

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from eth_utils import keccak
from pydantic import ValidationError

from reputation.bounded import loads as bounded_loads
from reputation.chainlog import bind_outbox
from reputation.chainlog import migrate as chain_tables
from reputation.envelope import EnvelopeError, canonical, digest, recover_sender
from reputation.evidence import check_equivocation
from reputation.result import JudgeSummary, StoredRound
from reputation.views import create_views
from swarm_errors import SwarmError

__all__ = [
    "GENESIS",
    "MAX_RAW_BYTES",
    "Append",
    "ConsensusLog",
    "Evidence",
    "LogEntry",
    "LogError",
    "Operation",
    "RecordEvidence",
    "RecordRound",
    "verify_chain",
    "verify_log",
]

GENESIS = "0x" + "00" * 32
MAX_RAW_BYTES = 16 * 2**20
"""Largest raw message a reader of the log parses (bounded in depth too,
`reputation.bounded`): a peer's message came in a body of at most
`server.max_body_bytes` (1 MB by default), so a larger one is no message a node
logged, and a file handed to an auditor may hold anything."""
log = logging.getLogger(__name__)


class LogError(SwarmError):
    """The consensus log is unreadable, newer than this code, or its chain is broken."""


def _m1(db: sqlite_utils.Database) -> None:
    db["messages"].create(
        {
            "seq": int,
            "message_digest": str,
            "prev_digest": str,
            "digest": str,
            "type": str,
            "round_id": str,
            "sender": str,
            "timestamp": float,
            "raw": str,
        },
        pk="seq",
        not_null={"message_digest", "prev_digest", "digest", "type", "sender", "raw"},
    )
    db["messages"].create_index(["digest"], unique=True)
    db["messages"].create_index(["message_digest"], unique=True)
    db["messages"].create_index(["round_id"])
    db["rounds"].create(
        {
            "round_id": str,
            "coordinator": str,
            "created": float,
            "status": str,
            "winner": str,
            "result": str,
        },
        pk="round_id",
    )


def _m2(db: sqlite_utils.Database) -> None:
    db["evidence"].create(
        {
            "id": int,
            "kind": str,
            "round_id": str,
            "sender": str,
            "message_type": str,
            "first_digest": str,
            "second_digest": str,
            "first": str,
            "second": str,
            "detected": float,
        },
        pk="id",
        not_null={"kind", "sender", "message_type", "first_digest", "second_digest"},
    )
    db["evidence"].create_index(["first_digest", "second_digest"], unique=True)
    db["evidence"].create_index(["sender"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m1,
    _m2,
    chain_tables,
    create_views,
    bind_outbox,
]


@dataclass(frozen=True)
class LogEntry:
    seq: int
    message_digest: str
    prev_digest: str
    digest: str
    type: str
    round_id: str | None
    sender: str
    timestamp: float
    raw: str

    def message(self) -> dict[str, Any]:
        """The raw message parsed, bounded (`JsonRefused`, a `ValueError`, if it is not
        JSON within `MAX_RAW_BYTES` and the depth limit)."""
        out: dict[str, Any] = bounded_loads(self.raw, MAX_RAW_BYTES)
        return out


@dataclass(frozen=True)
class Evidence:
    kind: str
    round_id: str | None
    sender: str
    message_type: str
    first: dict[str, Any]
    second: dict[str, Any]
    detected: float


@dataclass(frozen=True)
class Append:
    """Append one signed message to the hash chain."""

    message: dict[str, Any]


@dataclass(frozen=True)
class RecordRound:
    """Store (or replace) a round's row in `rounds`."""

    round: StoredRound


@dataclass(frozen=True)
class RecordEvidence:
    """Store a pair of messages that proves equivocation (checked before it is stored).
    `first` may be the digest of a logged message (a receiver's guard keeps digests
    only): it is read from the log, and nothing is stored if the log does not hold it."""

    first: dict[str, Any] | str
    second: dict[str, Any]
    kind: str = "equivocation"


Operation = Append | RecordRound | RecordEvidence

_COLUMNS = ("message_digest", "prev_digest", "digest", "type", "round_id", "sender", "timestamp")


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def link(prev_digest: str, message_digest: str) -> str:
    return _hex(keccak(bytes.fromhex(prev_digest[2:]) + bytes.fromhex(message_digest[2:])))


class ConsensusLog:
    """One node's log file. Not shared between threads; cheap to open."""

    def __init__(self, path: str | Path, readonly: bool = False):
        """`readonly`: open an existing log without changing it (an auditor's); it
        must have this code's schema."""
        self.path = Path(path)
        try:
            if readonly:
                if not self.path.is_file():
                    raise LogError(f"no consensus log at {self.path}")
                uri = f"file:{self.path.resolve()}?mode=ro"
                self.db = sqlite_utils.Database(sqlite3.connect(uri, uri=True))
                self._check_version()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite_utils.Database(self.path)
                self.db.enable_wal()
                self._migrate()
        except Exception as exc:  # sqlite3.DatabaseError and friends
            if isinstance(exc, LogError):
                raise
            raise LogError(f"cannot open consensus log {self.path}: {exc}") from exc

    def _check_version(self) -> None:
        version = self.schema_version
        if version != len(MIGRATIONS):
            raise LogError(
                f"{self.path} has schema version {version}; this code reads {len(MIGRATIONS)} "
                "(open a copy with a node of this version to bring it up to date)"
            )

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise LogError(
                f"{self.path} has schema version {version}; this code knows {len(MIGRATIONS)}"
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db.atomic():
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def head(self) -> str:
        row = self.db.execute("SELECT digest FROM messages ORDER BY seq DESC LIMIT 1").fetchone()
        return str(row[0]) if row else GENESIS

    # Writing: a batch of operations in one transaction.

    def write(
        self, operations: Sequence[Operation], checked: bool = False
    ) -> list[LogEntry | None]:
        """Apply `operations` in order, in one transaction (all or nothing). Returns the
        entry of each `Append` (None for the other operations). Operations that cannot
        be stored (a message that is not canonical JSON, evidence that proves nothing)
        are refused before anything is written; `checked=True` says the caller has
        already run `check` on each (the journal does, to fail them one by one)."""
        if not checked:
            for op in operations:
                self.check(op)
        with self.db.atomic():
            return [self._apply(op) for op in operations]

    @staticmethod
    def check(op: Operation) -> None:
        """Raise if `op` cannot be stored (`EnvelopeError` and its kin); no I/O."""
        if isinstance(op, Append):
            canonical(op.message)
        elif isinstance(op, RecordEvidence):
            if isinstance(op.first, str):  # the first is read from the log when stored
                canonical(op.second)
            else:
                check_equivocation(op.first, op.second)

    def append(self, message: dict[str, Any]) -> LogEntry:
        """Append one signed message (stored in its canonical form)."""
        (entry,) = self.write([Append(message)])
        assert entry is not None
        return entry

    def record_round(self, stored: StoredRound) -> None:
        self.write([RecordRound(stored)])

    def record_evidence(self, first: dict[str, Any] | str, second: dict[str, Any]) -> None:
        self.write([RecordEvidence(first, second)])

    def _apply(self, op: Operation) -> LogEntry | None:
        if isinstance(op, Append):
            return self._append(op.message)
        if isinstance(op, RecordRound):
            r = op.round
            self.db.execute(
                "INSERT OR REPLACE INTO rounds "
                "(round_id, coordinator, created, status, winner, result) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    r.round_id,
                    r.coordinator,
                    r.created,
                    r.status,
                    r.winner,
                    json.dumps(r.result.model_dump(mode="json"), sort_keys=True),
                ],
            )
            return None
        first = op.first
        if isinstance(first, str):
            row = self.db.execute(
                "SELECT raw FROM messages WHERE message_digest = ?", [first]
            ).fetchone()
            if row is None:
                return None
            first = json.loads(row[0])
        sender = check_equivocation(first, op.second)
        self.db.execute(
            "INSERT OR IGNORE INTO evidence (kind, round_id, sender, message_type, "
            "first_digest, second_digest, first, second, detected) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                op.kind,
                first["round_id"],
                sender,
                first["type"],
                digest(first),
                digest(op.second),
                canonical(first).decode("utf-8"),
                canonical(op.second).decode("utf-8"),
                time.time(),
            ],
        )
        return None

    def _append(self, message: dict[str, Any]) -> LogEntry:
        raw = canonical(message)
        message_digest = _hex(keccak(raw))
        existing = self.db.execute(
            "SELECT * FROM messages WHERE message_digest = ?", [message_digest]
        ).fetchone()
        if existing:  # the same signed message twice is stored once
            return LogEntry(*existing)
        prev = self.head()
        values = (
            message_digest,
            prev,
            link(prev, message_digest),
            str(message["type"]),
            message.get("round_id"),
            str(message["sender"]),
            float(message["timestamp"]),
        )
        cursor = self.db.execute(
            f"INSERT INTO messages ({', '.join(_COLUMNS)}, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [*values, raw.decode("utf-8")],
        )
        return LogEntry(int(cursor.lastrowid or 0), *values, raw.decode("utf-8"))

    # Reading.

    def entries(self, round_id: str | None = None) -> Iterator[LogEntry]:
        where, args = ("WHERE round_id = ?", [round_id]) if round_id else ("", [])
        for row in self.db.execute(f"SELECT * FROM messages {where} ORDER BY seq", args):
            yield LogEntry(*row)

    def round(self, round_id: str) -> StoredRound | None:
        row = self.db.execute(
            "SELECT round_id, coordinator, created, status, winner, result FROM rounds "
            "WHERE round_id = ?",
            [round_id],
        ).fetchone()
        return None if row is None else self._stored(row)

    def owner(self) -> str | None:
        """The node whose log this is: the signer of its latest `epoch` message (a
        node notes one at each start), else the coordinator of its latest round."""
        row = self.db.execute(
            "SELECT sender FROM messages WHERE type = 'epoch' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            row = self.db.execute(
                "SELECT coordinator FROM rounds ORDER BY created DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])

    def judge_history(
        self, limit: int, owner: str, before: int | None = None
    ) -> list[tuple[str, str, list[dict[str, str]], list[JudgeSummary]]]:
        """The latest `limit` results `owner` signed (before entry `before`, if given),
        in log order: each one's topic source, topic, announced messages ([] if the
        announcement is not in the log) and judges. A result this code cannot read is
        skipped, with a warning."""
        rows = self.db.execute(
            "SELECT CAST(r.round_id AS BLOB), CAST(r.raw AS BLOB), CAST(m.raw AS BLOB) "
            "FROM messages r LEFT JOIN messages m ON "
            "m.round_id = r.round_id AND m.type = 'announce' AND m.sender = r.sender "
            "WHERE r.type = 'result' AND lower(r.sender) = lower(?) AND r.seq < ? "
            "ORDER BY r.seq DESC LIMIT ?",
            [owner, _before(before), limit],
        ).fetchall()
        out = []
        for round_id, result, announce in reversed(rows):
            try:
                swarm = bounded_loads(result, MAX_RAW_BYTES)["payload"]
                judges = [JudgeSummary.model_validate(j) for j in swarm["judges"]]
                messages = _turns(announce) if announce else []
                source, topic = swarm.get("topic_source", ""), swarm.get("topic", "")
                out.append((str(source), str(topic), messages, judges))
            except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("round %s: judges' records not readable, skipped: %s", round_id, exc)
        return out

    def recent_prompts(self, limit: int, before: int | None = None) -> list[list[dict[str, str]]]:
        """The messages of the latest `limit` announcements in the log (any
        coordinator's; before entry `before`, if given), oldest first; an unreadable
        one is skipped."""
        rows = self.db.execute(
            "SELECT CAST(raw AS BLOB) FROM messages WHERE type = 'announce' AND seq < ? "
            "ORDER BY seq DESC LIMIT ?",
            [_before(before), limit],
        ).fetchall()
        out = []
        for (raw,) in reversed(rows):
            try:
                out.append(_turns(raw))
            except (ValueError, TypeError, KeyError):
                continue
        return out

    def evidence(self, sender: str | None = None) -> list[Evidence]:
        where, args = ("WHERE lower(sender) = lower(?)", [sender]) if sender else ("", [])
        rows = self.db.execute(
            "SELECT kind, round_id, sender, message_type, first, second, detected "
            f"FROM evidence {where} ORDER BY id",
            args,
        )
        return [
            Evidence(kind, rid, who, kind_of, json.loads(a), json.loads(b), float(t))
            for kind, rid, who, kind_of, a, b, t in rows
        ]

    def _stored(self, row: tuple[Any, ...]) -> StoredRound:
        round_id, coordinator, created, status, winner, result = row
        try:
            return StoredRound.model_validate(
                {
                    "round_id": round_id,
                    "coordinator": coordinator,
                    "created": created,
                    "status": status,
                    "winner": winner,
                    "result": json.loads(result),
                }
            )
        except (ValidationError, ValueError, TypeError) as exc:
            raise LogError(f"round {round_id}: the stored result does not parse: {exc}") from exc

    def close(self) -> None:
        self.db.close()


def _turns(raw: bytes) -> list[dict[str, str]]:
    """An announcement's conversation, read bounded from its raw bytes (read as bytes:
    text that is not UTF-8 cannot stop a reader); `ValueError`/`TypeError`/`KeyError`
    when it is not a list of turns of text."""
    turns = bounded_loads(raw, MAX_RAW_BYTES)["payload"]["messages"]
    if not isinstance(turns, list) or not all(
        isinstance(t, dict) and all(isinstance(v, str) for v in t.values()) for t in turns
    ):
        raise TypeError("the announced messages are not turns of text")
    return turns


def _before(seq: int | None) -> int:
    return 2**62 if seq is None else seq


def verify_chain(entries: Iterator[LogEntry] | list[LogEntry]) -> int:
    """Recompute every digest and link; return the number of entries checked."""
    prev = GENESIS
    count = 0
    for entry in entries:
        message_digest = _hex(keccak(entry.raw.encode("utf-8")))
        if entry.message_digest != message_digest:
            raise LogError(f"entry {entry.seq}: message digest does not match its raw bytes")
        if entry.prev_digest != prev:
            raise LogError(f"entry {entry.seq}: previous digest does not match entry before it")
        if entry.digest != link(prev, message_digest):
            raise LogError(f"entry {entry.seq}: link digest is wrong")
        prev = entry.digest
        count += 1
    return count


def verify_log(log: ConsensusLog) -> int:
    """Check the hash chain and every message's signature and header fields."""
    try:  # a column of another type than the schema's (`swarm audit` names each one)
        entries = list(log.entries())
        verify_chain(entries)
    except (TypeError, ValueError, AttributeError, sqlite3.Error) as exc:
        raise LogError(f"the log's columns do not verify: {exc}") from exc
    for entry in entries:
        try:
            message = entry.message()  # bounded: a hostile log cannot crash the check
            sender = recover_sender(message)
        except (ValueError, TypeError, EnvelopeError) as exc:
            raise LogError(f"entry {entry.seq}: {exc}") from exc
        if (sender, message["type"], message.get("round_id")) != (
            entry.sender,
            entry.type,
            entry.round_id,
        ):
            raise LogError(f"entry {entry.seq}: header columns differ from the signed message")
    return len(entries)
