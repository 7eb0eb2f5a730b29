"""The consensus log's chain tables: the outbox of chain writes, and the batches of
rounds committed as Merkle roots. Functions over a `ConsensusLog`'s database, run
in the log's thread (the node's journal calls them through `Journal.read`).

- `outbox`: one row per chain write, keyed (`key`) so that queueing the same write
  twice stores it once. `status` goes pending → sent (a signed transaction is out,
  its hash, nonce and raw bytes kept so it can be re-broadcast as is) → done
  (mined and confirmed) or failed (refused by the contract; `error` says why).
  Every row is bound to the deployment it was written for (`chain_id`, `contract`,
  lower-case: `At`), and a key is unique per deployment only: every reader takes
  the deployment it trusts, so a row written for a wiped chain or another contract
  never counts as done on this one (`bind_outbox`, a migration of `reputation.log`).
  Rows from before that migration belong to no deployment until a node adopts them
  (`adopt_unbound`: the deployment its `<log>.chain.json` memo names, the one they
  were written for). A key that stands for an intent which may come again (a model
  change A→B→A) carries a sequence number (`next_seq`: how many writes of that
  kind this deployment has finished), so a later legitimate write never collides
  with an earlier one, while the replay of an unfinished one keeps its key.
- `batches`: a batch's index, Merkle root, round count, the evidence rows it
  settles, its settlement once signed, and the blocks its commit and settlement
  went into.
- `batch_rounds`: which batch each round went into, its leaf index and its signed
  result's digest (the leaf).
"""

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

__all__ = [
    "At",
    "Batch",
    "OutboxRow",
    "add_batch",
    "adopt_unbound",
    "at",
    "batch_of_round",
    "batches",
    "bind_outbox",
    "enqueue",
    "evidence_after",
    "last_evidence",
    "migrate",
    "next_seq",
    "other_deployments",
    "outbox_backlog",
    "outbox_pending",
    "outbox_row",
    "requeue_commits",
    "unbatched_rounds",
    "update_batch",
    "update_outbox",
]

At = tuple[int, str]
"""A deployment: (chain id, contract address in lower case)."""


def at(chain_id: int, contract: str) -> At:
    return int(chain_id), contract.lower()


def migrate(db: sqlite_utils.Database) -> None:
    db["outbox"].create(
        {
            "id": int,
            "key": str,
            "function": str,
            "args": str,
            "value": str,
            "status": str,
            "tx_hash": str,
            "raw_tx": str,
            "nonce": int,
            "attempts": int,
            "error": str,
            "created": float,
            "updated": float,
            "block": int,
        },
        pk="id",
        not_null={"key", "function", "args", "value", "status"},
        defaults={"status": "pending", "attempts": 0, "value": "0"},
    )
    db["outbox"].create_index(["key"], unique=True)
    db["outbox"].create_index(["status"])
    db["batches"].create(
        {
            "batch": int,
            "root": str,
            "rounds": int,
            "created": float,
            "first_evidence": int,
            "last_evidence": int,
            "settlement": str,
            "committed_block": int,
            "settled_block": int,
        },
        pk="batch",
        not_null={"root", "rounds", "created"},
    )
    db["batch_rounds"].create(
        {"round_id": str, "batch": int, "leaf": int, "result_digest": str},
        pk="round_id",
        not_null={"batch", "leaf", "result_digest"},
    )
    db["batch_rounds"].create_index(["batch", "leaf"], unique=True)


def bind_outbox(db: sqlite_utils.Database) -> None:
    """Migration: bind outbox rows to a deployment; keys unique per deployment."""
    db.execute("ALTER TABLE outbox ADD COLUMN chain_id INTEGER")
    db.execute("ALTER TABLE outbox ADD COLUMN contract TEXT")
    db.execute("DROP INDEX IF EXISTS idx_outbox_key")
    db.execute("CREATE UNIQUE INDEX idx_outbox_deployment_key ON outbox (chain_id, contract, key)")


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": "0x" + value.hex()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return bytes.fromhex(value["bytes"][2:])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    function: str
    args: list[Any]
    value: int
    status: str
    tx_hash: str | None
    raw_tx: bytes | None
    nonce: int | None
    attempts: int
    error: str | None
    block: int | None


_OUTBOX = "id, key, function, args, value, status, tx_hash, raw_tx, nonce, attempts, error, block"


def _row(row: tuple[Any, ...]) -> OutboxRow:
    id_, key, function, args, value, status, tx_hash, raw, nonce, attempts, error, block = row
    return OutboxRow(
        id_,
        key,
        function,
        _decode(json.loads(args)),
        int(value),
        status,
        tx_hash,
        bytes.fromhex(raw[2:]) if raw else None,
        nonce,
        attempts,
        error,
        block,
    )


def _insert(log: Any, where: At, key: str, function: str, args: list[Any], value: int) -> bool:
    now = time.time()
    chain_id, contract = where
    cursor = log.db.execute(
        "INSERT OR IGNORE INTO outbox (key, function, args, value, status, attempts, created,"
        " updated, chain_id, contract) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
        [key, function, json.dumps(_encode(args)), str(value), now, now, chain_id, contract],
    )
    return bool(cursor.rowcount)


def enqueue(log: Any, where: At, key: str, function: str, args: list[Any], value: int = 0) -> bool:
    """Queue a chain write under `key` for deployment `where`; False if that key is
    already queued (or done) there."""
    with log.db.atomic():
        return _insert(log, where, key, function, args, value)


def outbox_pending(log: Any, where: At) -> list[OutboxRow]:
    """The deployment's rows still to send or follow, in order (no other deployment's)."""
    rows = log.db.execute(
        f"SELECT {_OUTBOX} FROM outbox WHERE status IN ('pending', 'sent') "
        "AND chain_id = ? AND contract = ? ORDER BY id",
        list(where),
    ).fetchall()
    return [_row(r) for r in rows]


def outbox_row(log: Any, where: At, key: str) -> OutboxRow | None:
    row = log.db.execute(
        f"SELECT {_OUTBOX} FROM outbox WHERE key = ? AND chain_id = ? AND contract = ?",
        [key, *where],
    ).fetchone()
    return None if row is None else _row(row)


def next_seq(log: Any, where: At, prefix: str) -> int:
    """How many writes whose key starts with `prefix` are finished (done or failed) on
    the deployment: the sequence number of the next intent of that kind."""
    row = log.db.execute(
        "SELECT count(*) FROM outbox WHERE chain_id = ? AND contract = ? "
        "AND status IN ('done', 'failed') AND substr(key, 1, ?) = ?",
        [*where, len(prefix), prefix],
    ).fetchone()
    return int(row[0])


def other_deployments(log: Any, where: At) -> list[At]:
    """The deployments other than `where` that the outbox holds rows for."""
    rows = log.db.execute(
        "SELECT DISTINCT chain_id, contract FROM outbox WHERE chain_id IS NOT NULL "
        "AND NOT (chain_id = ? AND contract = ?) ORDER BY chain_id, contract",
        list(where),
    ).fetchall()
    return [(int(c), str(a)) for c, a in rows]


def adopt_unbound(log: Any, where: At) -> int:
    """Bind the rows written before deployments were recorded to `where` (the
    deployment the node's memo says it was on); how many were bound."""
    with log.db.atomic():
        cursor = log.db.execute(
            "UPDATE outbox SET chain_id = ?, contract = ? WHERE chain_id IS NULL", list(where)
        )
    return int(cursor.rowcount)


def requeue_commits(log: Any, where: At) -> int:
    """Queue, for deployment `where`, the commit of every batch of the log that has none
    there (a node moved to a new chain commits its earlier batches first, in order, since
    the contract takes a committer's batches in order); how many were queued."""
    queued = 0
    with log.db.atomic():
        for batch in batches(log):
            commit = [batch.batch, bytes.fromhex(batch.root[2:]), batch.rounds]
            queued += _insert(log, where, f"commit:{batch.batch}", "commit", commit, 0)
    return queued


def update_outbox(log: Any, row_id: int, **fields: Any) -> None:
    if "raw_tx" in fields and isinstance(fields["raw_tx"], bytes):
        fields["raw_tx"] = "0x" + fields["raw_tx"].hex()
    fields["updated"] = time.time()
    names = ", ".join(f"{name} = ?" for name in fields)
    with log.db.atomic():
        log.db.execute(f"UPDATE outbox SET {names} WHERE id = ?", [*fields.values(), row_id])


def outbox_backlog(log: Any, where: At | None = None) -> dict[str, int]:
    """Rows by status (of deployment `where`, or of all)."""
    if where is None:
        rows = log.db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
    else:
        rows = log.db.execute(
            "SELECT status, count(*) FROM outbox WHERE chain_id = ? AND contract = ? "
            "GROUP BY status",
            list(where),
        ).fetchall()
    return {status: int(n) for status, n in rows}


def unbatched_rounds(log: Any, coordinator: str) -> list[tuple[str, float, str]]:
    """(round id, created, signed result digest) of this coordinator's settled rounds not
    yet in a batch, oldest first."""
    rows = log.db.execute(
        "SELECT r.round_id, r.created, m.message_digest FROM rounds r "
        "JOIN messages m ON m.round_id = r.round_id AND m.type = 'result' "
        "AND lower(m.sender) = lower(r.coordinator) "
        "LEFT JOIN batch_rounds b ON b.round_id = r.round_id "
        "WHERE r.status = 'ok' AND lower(r.coordinator) = lower(?) AND b.round_id IS NULL "
        "ORDER BY r.created, r.round_id",
        [coordinator],
    ).fetchall()
    return [(rid, float(created), d) for rid, created, d in rows]


@dataclass(frozen=True)
class Batch:
    batch: int
    root: str
    rounds: int
    created: float
    first_evidence: int
    last_evidence: int
    settlement: dict[str, Any] | None
    committed_block: int | None
    settled_block: int | None


_BATCH = (
    "batch, root, rounds, created, first_evidence, last_evidence, settlement, "
    "committed_block, settled_block"
)


def _batch(row: tuple[Any, ...]) -> Batch:
    values = list(row)
    values[6] = json.loads(values[6]) if values[6] else None
    return Batch(*values)


def add_batch(
    log: Any,
    root: str,
    round_digests: list[tuple[str, str]],
    evidence: tuple[int, int],
    where: At,
) -> Batch:
    """Store a new batch of (round id, result digest) and queue its commit for deployment
    `where` (outbox key `commit:<batch>`: `commit(batch, root, rounds)`), in one
    transaction."""
    with log.db.atomic():
        row = log.db.execute("SELECT coalesce(max(batch) + 1, 0) FROM batches").fetchone()
        index = int(row[0])
        now = time.time()
        log.db.execute(
            "INSERT INTO batches (batch, root, rounds, created, first_evidence, last_evidence)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [index, root, len(round_digests), now, evidence[0], evidence[1]],
        )
        log.db.conn.executemany(
            "INSERT INTO batch_rounds (round_id, batch, leaf, result_digest) VALUES (?, ?, ?, ?)",
            [(rid, index, i, d) for i, (rid, d) in enumerate(round_digests)],
        )
        commit = [index, bytes.fromhex(root[2:]), len(round_digests)]
        _insert(log, where, f"commit:{index}", "commit", commit, 0)
    return Batch(index, root, len(round_digests), now, evidence[0], evidence[1], None, None, None)


def batches(log: Any, unsettled_only: bool = False) -> list[Batch]:
    where = "WHERE settlement IS NULL" if unsettled_only else ""
    rows = log.db.execute(f"SELECT {_BATCH} FROM batches {where} ORDER BY batch").fetchall()
    return [_batch(r) for r in rows]


def update_batch(log: Any, batch: int, **fields: Any) -> None:
    if "settlement" in fields and fields["settlement"] is not None:
        fields["settlement"] = json.dumps(fields["settlement"], sort_keys=True)
    names = ", ".join(f"{name} = ?" for name in fields)
    with log.db.atomic():
        log.db.execute(f"UPDATE batches SET {names} WHERE batch = ?", [*fields.values(), batch])


def batch_of_round(log: Any, round_id: str) -> tuple[Batch, int, list[str]] | None:
    """The batch a round went into, its leaf index and every leaf digest of the batch."""
    row = log.db.execute(
        "SELECT batch, leaf FROM batch_rounds WHERE round_id = ?", [round_id]
    ).fetchone()
    if row is None:
        return None
    index, leaf = row
    batch = _batch(
        log.db.execute(f"SELECT {_BATCH} FROM batches WHERE batch = ?", [index]).fetchone()
    )
    digests = [
        d
        for (d,) in log.db.execute(
            "SELECT result_digest FROM batch_rounds WHERE batch = ? ORDER BY leaf", [index]
        )
    ]
    return batch, int(leaf), digests


def evidence_after(log: Any, after: int) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Equivocation evidence stored after row `after`: (row id, first, second)."""
    rows = log.db.execute(
        "SELECT id, first, second FROM evidence WHERE id > ? ORDER BY id", [after]
    ).fetchall()
    return [(int(i), json.loads(a), json.loads(b)) for i, a, b in rows]


def last_evidence(log: Any) -> int:
    return int(log.db.execute("SELECT coalesce(max(id), 0) FROM evidence").fetchone()[0])
