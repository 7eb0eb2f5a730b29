"""The node's consensus log, written and read off the event loop.

The `ConsensusLog` (SQLite) belongs to one thread, the journal's writer; the
event loop only queues work for it and awaits futures. The writer is woken at
the end of the loop's current step, so every write queued in one step (a phase
that logs several messages at once) goes in one batch, and writes queued while
the writer is busy go in its next one: one transaction per batch, none of it on
the loop. Order is kept: writes and reads run in the order they were queued, so
a read sees every write queued before it.

`append` returns a future. A caller that must know the message is stored before
it goes on (a participant before it replies, the coordinator before it returns a
result) awaits it; others may leave it, and a failed write is then logged as an
error rather than lost silently. `close` waits for every queued write.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from reputation.log import (
    Append,
    ConsensusLog,
    LogEntry,
    LogError,
    Operation,
    RecordEvidence,
    RecordRound,
)
from reputation.result import StoredRound

__all__ = ["Journal"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Journal:
    """An async front for one `ConsensusLog`, owned by a writer thread."""

    def __init__(self, executor: ThreadPoolExecutor, consensus_log: ConsensusLog, head: str):
        self._executor = executor
        self._log = consensus_log
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._pending: list[tuple[Operation | Callable[[ConsensusLog], Any], asyncio.Future[Any]]]
        self._pending = []
        self._scheduled = False
        self._closed = False
        self.head = head
        """The log's digest after the last committed append."""
        self.commits = 0
        """Transactions committed (for tests and benchmarks)."""

    @classmethod
    async def open(cls, path: str | Path) -> "Journal":
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consensus-log")
        loop = asyncio.get_running_loop()
        try:
            consensus_log = await loop.run_in_executor(executor, ConsensusLog, path)
            head = await loop.run_in_executor(executor, consensus_log.head)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, consensus_log, head)

    @property
    def path(self) -> Path:
        return self._log.path

    def append(self, message: dict[str, Any]) -> "asyncio.Future[LogEntry]":
        """Queue one signed message; the future gives its entry once committed."""
        future: asyncio.Future[LogEntry] = self._queue(Append(message))
        return future

    def record_round(self, stored: StoredRound) -> "asyncio.Future[None]":
        return self._queue(RecordRound(stored))

    def record_evidence(
        self, first: dict[str, Any] | str, second: dict[str, Any]
    ) -> "asyncio.Future[None]":
        """Store an equivocation pair; `first` may be a logged message's digest."""
        return self._queue(RecordEvidence(first, second))

    def read(self, query: Callable[[ConsensusLog], T]) -> "asyncio.Future[T]":
        """Queue `query`, to run on the log in the writer thread after every write queued
        before it; the future gives its result."""
        future: asyncio.Future[T] = self._queue(query)
        return future

    async def close(self) -> None:
        """Wait for queued writes, then close the file and stop the thread. Anything
        queued after this fails with `LogError`."""
        last = self.read(lambda _: None)
        self._closed = True
        await last
        await self._loop.run_in_executor(self._executor, self._log.close)
        self._executor.shutdown(wait=True)

    def _queue(self, item: Operation | Callable[[ConsensusLog], Any]) -> "asyncio.Future[Any]":
        future: asyncio.Future[Any] = self._loop.create_future()
        if self._closed:
            future.set_exception(LogError(f"the consensus log {self.path} is closed"))
            return future
        future.add_done_callback(_report_unseen_failure)
        with self._lock:
            self._pending.append((item, future))
            if not self._scheduled:
                self._scheduled = True
                self._loop.call_soon(self._executor.submit, self._flush)
        return future

    def _flush(self) -> None:
        """In the writer thread: everything queued so far, in order; each run of writes
        between two reads is one transaction."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._scheduled = False
        writes: list[tuple[Operation, asyncio.Future[Any]]] = []
        for item, future in batch:
            if isinstance(item, Append | RecordRound | RecordEvidence):
                writes.append((item, future))
                continue
            self._commit(writes)
            writes = []
            self._settle([future], partial(_run_read, item, self._log))
        self._commit(writes)

    def _commit(self, writes: list[tuple[Operation, "asyncio.Future[Any]"]]) -> None:
        good = []
        for op, future in writes:  # one operation that cannot be stored fails alone
            try:
                ConsensusLog.check(op)
            except Exception as exc:
                self._loop.call_soon_threadsafe(_fail_all, [future], exc)
            else:
                good.append((op, future))
        if good:
            self._settle([f for _, f in good], lambda: self._write([op for op, _ in good]))

    def _write(self, ops: list[Operation]) -> list[Any]:
        results = self._log.write(ops, checked=True)  # `_commit` checked each
        self.commits += 1
        self.head = self._log.head()
        return results

    def _settle(self, futures: list["asyncio.Future[Any]"], work: Callable[[], list[Any]]) -> None:
        """Run `work` and hand its results (or its exception) to the futures, on the loop."""
        try:
            results = work()
        except BaseException as exc:
            self._loop.call_soon_threadsafe(_fail_all, futures, exc)
        else:
            self._loop.call_soon_threadsafe(_resolve_all, futures, results)


def _run_read(query: Callable[[ConsensusLog], Any], log: ConsensusLog) -> list[Any]:
    return [query(log)]


def _resolve_all(futures: list["asyncio.Future[Any]"], results: list[Any]) -> None:
    for future, result in zip(futures, results, strict=True):
        if not future.done():
            future.set_result(result)


def _fail_all(futures: list["asyncio.Future[Any]"], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)


def _report_unseen_failure(future: "asyncio.Future[Any]") -> None:
    # Retrieving the exception here marks it seen; a caller awaiting it still gets it.
    if not future.cancelled() and future.exception() is not None:
        log.error("consensus log write failed: %s", future.exception())
