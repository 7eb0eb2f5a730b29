import itertools
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from reputation import ConsensusLog, LogError, sign_envelope, verify_chain, verify_log
from reputation.evidence import InvalidEvidence, check_equivocation
from reputation.log import GENESIS, MIGRATIONS, Append, RecordEvidence
from reputation.result import FailedRound, StoredRound

ACCOUNT = Account.from_key(b"\x04" * 32)


def _fill(log: ConsensusLog, n: int) -> list[dict]:
    msgs = [sign_envelope(ACCOUNT, "answer", f"0x{i:02x}", {"i": i}) for i in range(n)]
    for m in msgs:
        log.append(m)
    return msgs


def test_chain_links_and_wal(tmp_path: Path) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    assert log.head() == GENESIS
    _fill(log, 5)
    entries = list(log.entries())
    assert entries[0].prev_digest == GENESIS
    assert all(b.prev_digest == a.digest for a, b in itertools.pairwise(entries))
    assert verify_log(log) == 5
    assert log.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert log.schema_version == len(MIGRATIONS)


def test_same_message_is_stored_once(tmp_path: Path) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    (msg,) = _fill(log, 1)
    again = log.append(msg)
    assert again.seq == 1 and len(list(log.entries())) == 1


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    _fill(log, 3)
    head = log.head()
    log.close()
    reopened = ConsensusLog(tmp_path / "log.db")
    assert reopened.head() == head and verify_log(reopened) == 3


@pytest.mark.parametrize("column", ["raw", "prev_digest", "digest"])
def test_tampering_is_detected(tmp_path: Path, column: str) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    _fill(log, 4)
    row = log.db.execute(f"SELECT {column} FROM messages WHERE seq = 2").fetchone()[0]
    forged = row.replace('"i":1', '"i":9') if column == "raw" else "0x" + "11" * 32
    with log.db.conn:
        log.db.execute(f"UPDATE messages SET {column} = ? WHERE seq = 2", [forged])
    with pytest.raises(LogError):
        verify_chain(list(log.entries()))


def test_deleted_row_is_detected(tmp_path: Path) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    _fill(log, 4)
    with log.db.conn:
        log.db.execute("DELETE FROM messages WHERE seq = 2")
    with pytest.raises(LogError, match="previous digest"):
        verify_log(log)


def test_newer_schema_and_garbage_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    ConsensusLog(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(LogError, match="schema version 99"):
        ConsensusLog(path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(LogError):
        ConsensusLog(junk)
    assert junk.read_bytes() == b"not a database at all" * 100  # nothing overwritten


def test_rounds_table(tmp_path: Path) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    failed = StoredRound(
        round_id="0xr",
        coordinator="0xc",
        created=1.0,
        status="failed",
        winner=None,
        result=FailedRound(error="only 1 of 3 nodes answered", left_out=[]),
    )
    log.record_round(failed)
    assert log.round("0xr") == failed
    assert log.round("0xnope") is None
    with log.db.conn:  # a row this code cannot read is an error that names the round
        log.db.execute("UPDATE rounds SET result = '{\"swarm\": 1}' WHERE round_id = '0xr'")
    with pytest.raises(LogError, match="0xr"):
        log.round("0xr")


def test_a_batch_is_one_transaction_all_or_nothing(tmp_path: Path) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    commits = []
    log.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    msgs = [sign_envelope(ACCOUNT, "answer", f"0x{i:02x}", {"i": i}) for i in range(4)]
    entries = log.write([Append(m) for m in msgs])
    assert len(commits) == 1 and [e.seq for e in entries if e] == [1, 2, 3, 4]
    other = Account.from_key(b"\x05" * 32)
    not_evidence = RecordEvidence(msgs[0], sign_envelope(other, "answer", "0x00", {"i": 9}))
    with pytest.raises(InvalidEvidence):  # refused before anything is written
        log.write([Append(sign_envelope(ACCOUNT, "answer", "0x99", {})), not_evidence])
    assert len(list(log.entries())) == 4 and verify_log(log) == 4


def test_equivocation_evidence_is_stored_and_checked(tmp_path: Path) -> None:
    log = ConsensusLog(tmp_path / "log.db")
    one = sign_envelope(ACCOUNT, "answer", "0x01", {"text": "a"})
    two = sign_envelope(ACCOUNT, "answer", "0x01", {"text": "b"})
    log.record_evidence(one, two)
    log.record_evidence(one, two)  # the same pair twice is kept once
    (kept,) = log.evidence()
    assert (kept.first, kept.second, kept.sender) == (one, two, ACCOUNT.address)
    assert check_equivocation(kept.first, kept.second) == ACCOUNT.address
    with pytest.raises(InvalidEvidence):
        log.record_evidence(one, sign_envelope(ACCOUNT, "answer", "0x02", {"text": "b"}))


def test_a_log_of_the_first_schema_migrates_without_losing_anything(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db.close()
    log = ConsensusLog(path)  # as the previous version left it: chain and rounds, no evidence
    msgs = _fill(log, 3)
    log.close()
    again = ConsensusLog(path)
    assert again.schema_version == len(MIGRATIONS) and verify_log(again) == 3
    assert [e.message() for e in again.entries()] == msgs and again.evidence() == []


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=4), st.text(max_size=20), max_size=3),
        min_size=1,
        max_size=6,
    )
)
def test_records_round_trip(tmp_path_factory, payloads: list[dict]) -> None:
    import json

    log = ConsensusLog(tmp_path_factory.mktemp("rt") / "log.db")
    msgs = [sign_envelope(ACCOUNT, "verdict", f"0x{i}", p) for i, p in enumerate(payloads)]
    for m in msgs:
        log.append(m)
    assert [json.loads(e.raw) for e in log.entries()] == msgs
    assert verify_log(log) == len(msgs)
