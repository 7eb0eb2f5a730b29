"""The journal keeps SQLite off the event loop: one writer thread, batched commits, order kept."""

import asyncio
import threading
from pathlib import Path

import pytest
from eth_account import Account

from node.journal import Journal
from reputation.envelope import sign_envelope
from reputation.log import ConsensusLog, LogError, verify_log

ACCOUNT = Account.from_key(b"\x06" * 32)


def message(i: int) -> dict:
    return sign_envelope(ACCOUNT, "answer", f"0x{i:04x}", {"i": i})


async def test_writes_run_off_the_loop_in_order_and_in_few_commits(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "log.db")
    threads: set[str] = set()
    original = ConsensusLog.write

    def spy(log: ConsensusLog, ops, **kw):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        return original(log, ops, **kw)

    ConsensusLog.write = spy  # type: ignore[method-assign]
    messages = [message(i) for i in range(40)]
    try:
        futures = [journal.append(m) for m in messages]  # queued in one step of the loop
        entries = await asyncio.gather(*futures)
    finally:
        ConsensusLog.write = original  # type: ignore[method-assign]
    assert [e.seq for e in entries] == list(range(1, 41))  # the order they were queued
    assert threading.main_thread().name not in threads and len(threads) == 1
    assert journal.commits == 1  # one batch: everything queued in one step
    assert journal.head == entries[-1].digest
    seen = await journal.read(lambda log: [e.message() for e in log.entries()])
    assert seen == messages
    await journal.close()
    reopened = ConsensusLog(tmp_path / "log.db")
    assert verify_log(reopened) == 40
    reopened.close()


async def test_a_read_queued_after_writes_sees_them(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "log.db")
    journal.append(message(0))
    reading = journal.read(lambda log: len(list(log.entries())))  # queued in the same step
    journal.append(message(1))
    assert await reading == 1
    assert await journal.read(lambda log: len(list(log.entries()))) == 2
    await journal.close()


async def test_close_waits_for_queued_writes(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "log.db")
    for i in range(10):
        journal.append(message(i))  # nobody awaits these
    await journal.close()
    log = ConsensusLog(tmp_path / "log.db")
    assert len(list(log.entries())) == 10
    log.close()


async def test_a_failed_batch_reaches_every_caller_and_loses_nothing_stored(
    tmp_path: Path,
) -> None:
    journal = await Journal.open(tmp_path / "log.db")
    await journal.append(message(0))
    bad = {**message(1), "payload": {"x": float("nan")}}  # not canonical JSON
    with pytest.raises(ValueError):
        await journal.append(bad)
    await journal.append(message(2))
    assert await journal.read(verify_log) == 2
    await journal.close()


async def test_an_unreadable_file_fails_at_open(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(LogError):
        await Journal.open(junk)
