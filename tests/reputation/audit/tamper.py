"""Ways to tamper with a copy of a consensus log, as an operator holding the file
(and its own key) could: edit, drop or move entries, and rebuild the hash chain
over them so that `swarm log verify`'s chain check alone would pass."""

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_utils import keccak

from reputation.envelope import canonical, sign_envelope
from reputation.log import GENESIS, link

Change = Callable[[dict[str, Any]], None]


def entries(db: Path, kind: str, round_id: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(seq, message) of every entry of `kind` (in `round_id`), in order."""
    with sqlite3.connect(db) as conn:
        where, args = ("AND round_id = ?", [round_id]) if round_id else ("", [])
        rows = conn.execute(
            f"SELECT seq, raw FROM messages WHERE type = ? {where} ORDER BY seq", [kind, *args]
        ).fetchall()
    return [(seq, json.loads(raw)) for seq, raw in rows]


def set_raw(db: Path, seq: int, message: dict[str, Any], rebuild: bool) -> None:
    """Store `message` as entry `seq` (its columns too); `rebuild` the hash chain."""
    raw = canonical(message).decode("utf-8")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE messages SET raw = ?, round_id = ?, sender = ?, timestamp = ? WHERE seq = ?",
            [raw, message.get("round_id"), message["sender"], message["timestamp"], seq],
        )
    if rebuild:
        rebuild_chain(db)


def edit(db: Path, seq: int, change: Change, rebuild: bool = False, key: Any = None) -> None:
    """Change entry `seq`'s message in place; with `key`, sign it anew with that key."""
    ((message,),) = [(m,) for s, m in _all(db) if s == seq]
    if key is not None:
        payload = dict(message["payload"])
        change(payload)
        message = sign_envelope(
            key, message["type"], message["round_id"], payload, timestamp=message["timestamp"]
        )
    else:
        change(message)
    set_raw(db, seq, message, rebuild)


def drop(db: Path, seq: int, rebuild: bool = False) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM messages WHERE seq = ?", [seq])
    if rebuild:
        rebuild_chain(db)


def swap(db: Path, a: int, b: int) -> None:
    """Exchange the places of entries `a` and `b`."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE messages SET seq = -1 WHERE seq = ?", [a])
        conn.execute("UPDATE messages SET seq = ? WHERE seq = ?", [a, b])
        conn.execute("UPDATE messages SET seq = ? WHERE seq = -1", [b])


def rebuild_chain(db: Path) -> None:
    """Recompute every digest and link, as a forger would after editing."""
    prev = GENESIS
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT seq, raw FROM messages ORDER BY seq").fetchall()
        conn.execute("UPDATE messages SET message_digest = 'x' || seq, digest = 'y' || seq")
        for seq, raw in rows:
            message_digest = "0x" + keccak(raw.encode("utf-8")).hex()
            digest = link(prev, message_digest)
            conn.execute(
                "UPDATE messages SET message_digest = ?, prev_digest = ?, digest = ? WHERE seq = ?",
                [message_digest, prev, digest, seq],
            )
            prev = digest


def _all(db: Path) -> list[tuple[int, dict[str, Any]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT seq, raw FROM messages ORDER BY seq").fetchall()
    return [(seq, json.loads(raw)) for seq, raw in rows]


def untype(db: Path, table: str) -> None:
    """Re-create `table` with no column types or constraints (its rows kept), so that
    any value of any storage class can be stored in it, as SQLite allows a forger."""
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        views = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall()
        for name, _ in views:
            conn.execute(f"DROP VIEW [{name}]")
        conn.execute(f"CREATE TABLE untyped ({', '.join(columns)})")
        conn.execute(f"INSERT INTO untyped SELECT {', '.join(columns)} FROM [{table}]")
        conn.execute(f"DROP TABLE [{table}]")
        conn.execute(f"ALTER TABLE untyped RENAME TO [{table}]")
        for _, sql in views:
            conn.execute(sql)
