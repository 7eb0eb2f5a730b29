"""A log built to stop its own audit, as the operator holding the file could build
it: values of any SQLite storage class in any column, text that is not UTF-8, a
`raw` nested 100,000 deep (a C stack overflow in `json.loads` with eth_account's
recursion limit), round ids that are no round ids, rows of the other tables of the
wrong type. Each is a finding naming its check and entry; the audit of the rest
goes on; nothing raises, nothing crashes."""

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

from reputation.audit import AuditReport, audit_log
from reputation.log import ConsensusLog
from tests.reputation.audit.tamper import entries, untype

SWARM = [sys.executable, "-m", "node.cli"]
NESTED = "[" * 100_000


def audit_copy(db: Path) -> AuditReport:
    log = ConsensusLog(db, readonly=True)
    try:
        return audit_log(log)
    finally:
        log.close()


def at(report: AuditReport) -> set[tuple[str, int | None]]:
    """(check, entry) of every finding."""
    return {(f.check, f.seq) for f in report.all_findings()}


def verdict_seqs(db: Path, round_id: str) -> list[int]:
    return [seq for seq, _ in entries(db, "verdict", round_id)]


def test_a_blob_raw_is_a_finding_of_its_entry(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    seq = verdict_seqs(db, logged.round_ids[2])[0]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE messages SET raw = CAST(raw AS BLOB) WHERE seq = ?", [seq])
    report = audit_copy(db)
    (found,) = [f for f in report.all_findings() if f.seq == seq]
    assert (found.check, found.round_id) == ("columns", None)
    assert "raw is a BLOB" in found.message
    assert len(report.rounds) == len(logged.round_ids)  # the others are still recomputed
    # its link digest carries the chain on: one finding, not one per later entry
    assert not any(f.check == "hash_chain" for f in report.all_findings())


def test_text_that_is_not_utf8_is_a_finding(logged, tmp_path) -> None:
    """Python's sqlite3 cannot even fetch such a row (it raised while iterating)."""
    db = logged.copy(tmp_path)
    first, second = verdict_seqs(db, logged.round_ids[3])[:2]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE messages SET raw = CAST(X'7b22ff22' AS TEXT) WHERE seq = ?", [first])
        conn.execute("UPDATE messages SET sender = CAST(X'c328' AS TEXT) WHERE seq = ?", [second])
    report = audit_copy(db)
    assert {("columns", first), ("columns", second)} <= at(report)
    messages = {f.seq: f.message for f in report.all_findings()}
    assert "raw is text that is not UTF-8" in messages[first]
    assert "sender is text that is not UTF-8" in messages[second]


def test_any_storage_class_in_any_column_is_a_finding(logged, tmp_path) -> None:
    """With the column types gone (the table re-created without them), an integer
    and a NULL `raw`, a text timestamp, an integer round id and a BLOB sender."""
    db = logged.copy(tmp_path)
    untype(db, "messages")
    seqs = verdict_seqs(db, logged.round_ids[4])[:2] + verdict_seqs(db, logged.round_ids[5])[:3]
    changes = [
        ("raw = 5", "raw is an integer, not text"),
        ("raw = NULL", "raw is NULL"),
        ("timestamp = 'soon'", "timestamp is text, not a number"),
        ("round_id = 7", "round_id is an integer, not text"),
        ("sender = X'00'", "sender is a BLOB, not text"),
    ]
    with sqlite3.connect(db) as conn:
        for seq, (change, _) in zip(seqs, changes, strict=True):
            conn.execute(f"UPDATE messages SET {change} WHERE seq = ?", [seq])
    report = audit_copy(db)
    messages = {f.seq: f for f in report.all_findings() if f.check == "columns"}
    for seq, (_, says) in zip(seqs, changes, strict=True):
        assert says in messages[seq].message, (seq, says, messages.get(seq))
    assert len(report.rounds) == len(logged.round_ids)


def test_round_ids_that_are_not_round_ids_are_findings_and_never_shown(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    seq = verdict_seqs(db, logged.round_ids[6])[0]
    markup = '"><img src=x onerror=alert(1)>'
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE messages SET round_id = ? WHERE seq = ?", [markup, seq])
        conn.execute("UPDATE batch_rounds SET round_id = ? WHERE leaf = 0 AND batch = 0", [markup])
    report = audit_copy(db)
    assert ("round_id", seq) in at(report)
    assert all(f.round_id is None or f.round_id.startswith("0x") for f in report.all_findings())
    assert not any(markup in f.message for f in report.all_findings())
    assert any(f.check == "columns" and "batch_rounds" in f.message for f in report.all_findings())


def test_rows_of_the_other_tables_of_the_wrong_type_are_findings(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE rounds SET created = 'yesterday' WHERE round_id = ?", [logged.round_ids[0]]
        )
        conn.execute(
            "UPDATE rounds SET result = '{\"a\": ' WHERE round_id = ?", [logged.round_ids[1]]
        )
        conn.execute("UPDATE batches SET created = 'x' WHERE batch = 1")
        conn.execute("UPDATE batch_rounds SET leaf = 'first' WHERE batch = 2 AND leaf = 0")
        conn.execute(
            "INSERT INTO evidence (kind, round_id, sender, message_type, first_digest, "
            "second_digest, first, second, detected) VALUES "
            "('equivocation', NULL, ?, 'answer', '0x1', '0x2', '{}', '{}', 'when')",
            [logged.owner],
        )
    report = audit_copy(db)
    columns = [f.message for f in report.all_findings() if f.check == "columns"]
    assert any("rounds row" in m and "created is text" in m for m in columns), columns
    assert any("rounds row" in m and "result is not JSON" in m for m in columns), columns
    assert any("batches row" in m and "created is text" in m for m in columns), columns
    assert any("batch_rounds row" in m and "leaf is text" in m for m in columns), columns
    assert any("evidence row" in m and "detected is text" in m for m in columns), columns
    checks = {f.check for f in report.all_findings()}
    assert "merkle" in checks  # batch 1 is gone, batch 2 lost a leaf: roots no longer add up


async def test_a_nested_raw_settlement_and_evidence_exit_1_with_findings(logged, tmp_path) -> None:
    """In a separate process: on the code before the fix this was SIGSEGV (exit -11)."""
    db = logged.copy(tmp_path)
    seq = verdict_seqs(db, logged.round_ids[7])[0]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE messages SET raw = ? WHERE seq = ?", [NESTED, seq])
        conn.execute("UPDATE batches SET settlement = ? WHERE batch = 0", [NESTED])
        conn.execute(
            "UPDATE rounds SET result = ? WHERE round_id = ?", [NESTED, logged.round_ids[0]]
        )
        conn.execute(
            "INSERT INTO evidence (kind, round_id, sender, message_type, first_digest, "
            "second_digest, first, second, detected) VALUES "
            "('equivocation', NULL, ?, 'answer', '0x1', '0x2', ?, ?, 0)",
            [logged.owner, NESTED, NESTED],
        )
    proc = await asyncio.create_subprocess_exec(
        *SWARM,
        "audit",
        "--db",
        str(db),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode == 1, (proc.returncode, err.decode()[-2000:])
    assert b"Traceback" not in err
    findings = json.loads(out)["findings"]
    assert any(
        f["check"] == "signature" and "nested 100000 deep" in f["message"]
        for f in findings
        if f["seq"] == seq
    ), [f for f in findings if f["seq"] == seq]
    assert any(f["check"] == "settlement" and "batch 0" in f["message"] for f in findings)
    assert any(f["check"] == "columns" and "evidence row" in f["message"] for f in findings)
    assert any(f["check"] == "columns" and "rounds row" in f["message"] for f in findings)


async def test_swarm_log_verify_refuses_a_hostile_log_in_one_line(logged, tmp_path) -> None:
    """`swarm log verify` read raw messages with plain json.loads (a nested raw was a
    SIGSEGV) and a BLOB raw was a traceback; now each is one line and exit 1."""
    for label, value in (("nested", NESTED), ("blob", b"\x00\x01")):
        (tmp_path / label).mkdir()
        db = logged.copy(tmp_path / label)
        seq = verdict_seqs(db, logged.round_ids[1])[0]
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE messages SET raw = ? WHERE seq = ?", [value, seq])
        proc = await asyncio.create_subprocess_exec(
            *SWARM,
            "log",
            "verify",
            "--db",
            str(db),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 1, (label, proc.returncode, err.decode()[-2000:])
        assert b"Traceback" not in err and err.decode().startswith("Error: "), err
