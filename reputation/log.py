"""The consensus log: an append-only, hash-chained SQLite file per node.

Every signed protocol message is stored raw (its canonical JSON bytes, as a
UTF-8 string) in `messages` with

- `message_digest` = keccak256(raw),
- `prev_digest`    = the `digest` of the row before (32 zero bytes for the first),
- `digest`         = keccak256(prev_digest ‖ message_digest),

so changing, dropping or reordering any row breaks every later `digest`.
`verify_chain` recomputes the chain. Round results go in `rounds`.

The file uses WAL mode; the schema changes only through `MIGRATIONS`, applied in
order at open and recorded in `PRAGMA user_version`.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from eth_utils import keccak

from ranking.errors import SwarmError
from reputation.envelope import EnvelopeError, canonical, recover_sender

__all__ = ["GENESIS", "ConsensusLog", "LogEntry", "LogError", "verify_chain", "verify_log"]

GENESIS = "0x" + "00" * 32


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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m1]


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


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def link(prev_digest: str, message_digest: str) -> str:
    return _hex(keccak(bytes.fromhex(prev_digest[2:]) + bytes.fromhex(message_digest[2:])))


class ConsensusLog:
    """One node's log file. Not shared between threads; cheap to open."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite_utils.Database(self.path)
            self.db.enable_wal()
            self._migrate()
        except Exception as exc:  # sqlite3.DatabaseError and friends
            if isinstance(exc, LogError):
                raise
            raise LogError(f"cannot open consensus log {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise LogError(
                f"{self.path} has schema version {version}; this code knows {len(MIGRATIONS)}"
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db.conn:
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def head(self) -> str:
        row = self.db.execute("SELECT digest FROM messages ORDER BY seq DESC LIMIT 1").fetchone()
        return str(row[0]) if row else GENESIS

    def append(self, message: dict[str, Any]) -> LogEntry:
        """Append one signed message (stored in its canonical form)."""
        raw = canonical(message)
        meta = message
        message_digest = _hex(keccak(raw))
        with self.db.conn:  # one transaction: read head, write the new link
            existing = list(
                self.db["messages"].rows_where("message_digest = ?", [message_digest], limit=1)
            )
            if existing:  # the same signed message twice is stored once
                return LogEntry(**existing[0])
            prev = self.head()
            row: dict[str, Any] = {
                "message_digest": message_digest,
                "prev_digest": prev,
                "digest": link(prev, message_digest),
                "type": str(meta["type"]),
                "round_id": meta.get("round_id"),
                "sender": str(meta["sender"]),
                "timestamp": float(meta["timestamp"]),
                "raw": raw.decode("utf-8"),
            }
            self.db["messages"].insert(row)
            seq = self.db.execute("SELECT last_insert_rowid()").fetchone()[0]
        return LogEntry(seq=int(seq), **row)

    def entries(self, round_id: str | None = None) -> Iterator[LogEntry]:
        where, args = ("round_id = ?", [round_id]) if round_id else (None, None)
        for row in self.db["messages"].rows_where(where, args, order_by="seq"):
            yield LogEntry(**row)

    def record_round(
        self,
        round_id: str,
        coordinator: str,
        created: float,
        status: str,
        winner: str | None,
        result: dict[str, Any],
    ) -> None:
        self.db["rounds"].upsert(
            {
                "round_id": round_id,
                "coordinator": coordinator,
                "created": created,
                "status": status,
                "winner": winner,
                "result": json.dumps(result, sort_keys=True),
            },
            pk="round_id",
        )

    def round(self, round_id: str) -> dict[str, Any] | None:
        try:
            row = self.db["rounds"].get(round_id)
        except sqlite_utils.db.NotFoundError:
            return None
        out = dict(row)
        out["result"] = json.loads(out["result"]) if out["result"] else None
        return out

    def recent_results(self, limit: int) -> list[dict[str, Any]]:
        """Results of the latest `limit` finished rounds, newest first."""
        rows = self.db["rounds"].rows_where(
            "status = ? AND result IS NOT NULL", ["ok"], order_by="created DESC", limit=limit
        )
        return [json.loads(r["result"]) for r in rows]

    def close(self) -> None:
        self.db.close()


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
    entries = list(log.entries())
    verify_chain(entries)
    for entry in entries:
        try:
            message = json.loads(entry.raw)
            sender = recover_sender(message)
        except (ValueError, EnvelopeError) as exc:
            raise LogError(f"entry {entry.seq}: {exc}") from exc
        if (sender, message["type"], message["round_id"]) != (
            entry.sender,
            entry.type,
            entry.round_id,
        ):
            raise LogError(f"entry {entry.seq}: header columns differ from the signed message")
    return len(entries)
