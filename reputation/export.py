"""A consensus log as JSON lines, and back: what `swarm log export` writes, what a
node serves to an auditor (`GET /swarm/v1/log/export`) and what `swarm audit
--url` reads.

The first line is a header (`{"export": "swarm-consensus-log", "schema": N,
"owner": ...}`); every other line is one row, `{"table": ..., "row": {...}}`, of
the tables an audit reads (`TABLES`), each table in key order; the last line is
`{"end": "swarm-consensus-log", "rows": N}`, so that an export cut short (a
connection dropped, a node that failed half way) is refused, not audited as if it
were the whole log. Rows are copied as stored (raw messages, digests, links),
never rebuilt: an import holds exactly what the exporting node's file held, so
the audit of an import finds what the audit of the file would. The outbox (signed
transactions) stays out. A value JSON cannot carry (a BLOB, text that is not
UTF-8: no node writes one) stops the export with a `LogError` naming its row.

Exporting streams: `iter_export` reads the file on its own read-only connection
(one read transaction, so the rows are one moment's snapshot while the node's
writer goes on appending: WAL) and yields chunks of lines; `stream_export` runs it
on a thread of its own, one chunk at a time as the consumer asks, so neither the
event loop nor the journal's writer thread waits for it and a slow client holds
one chunk, not the log.

Importing is bounded, as any input from elsewhere: each line in bytes
(`MAX_LINE_BYTES`) and depth, the export in lines and bytes (`MAX_EXPORT_LINES`,
`MAX_EXPORT_BYTES`); rows go into the new file as they come (one transaction),
not gathered in memory first. `read_lines` reads lines from a binary file with the
line bound applied before a line is held whole.
"""

import asyncio
import json
import sqlite3
from collections.abc import AsyncGenerator, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from reputation.bounded import JsonRefused, loads
from reputation.log import MAX_RAW_BYTES, MIGRATIONS, ConsensusLog, LogError

__all__ = [
    "CHUNK_BYTES",
    "HEADER",
    "MAX_EXPORT_BYTES",
    "MAX_EXPORT_LINES",
    "MAX_LINE_BYTES",
    "TABLES",
    "export_lines",
    "import_lines",
    "iter_export",
    "read_lines",
    "stream_export",
]

HEADER = "swarm-consensus-log"
TABLES = {
    "messages": "seq",
    "rounds": "round_id",
    "evidence": "id",
    "batches": "batch",
    "batch_rounds": "round_id",
}
"""Table → the column its rows are written in the order of."""
MAX_LINE_BYTES = 8 * MAX_RAW_BYTES
"""A row holds one raw message of at most `MAX_RAW_BYTES`, which JSON escaping (a
quote, a non-ASCII character as `\\uXXXX`) can make several times longer."""
MAX_EXPORT_BYTES = 16 * 2**30
MAX_EXPORT_LINES = 50_000_000
"""An export larger than these is refused (a node streaming without end fills no
disk): far above any log an audit can hold in memory."""
CHUNK_BYTES = 256 * 1024
"""About how much of an export is read, held and sent at a time."""
_INSERT_BATCH = 1000


def _end(rows: int) -> str:
    return json.dumps({"end": HEADER, "rows": rows})


def _stored(db: Any, table: str, key: str) -> Iterator[dict[str, Any]]:
    """The rows of `table` as stored; text read as bytes and decoded here, so a value
    that is not UTF-8 is an error of its row, not of the whole read."""
    columns = list(db[table].columns_dict)
    select = ", ".join(
        f"typeof([{c}]), CASE WHEN typeof([{c}]) = 'text' THEN CAST([{c}] AS BLOB) ELSE [{c}] END"
        for c in columns
    )
    cursor = db.execute(f"SELECT {select} FROM [{table}] ORDER BY [{key}]")
    for number, raw in enumerate(cursor, start=1):
        row = {}
        for i, column in enumerate(columns):
            kind, value = raw[2 * i], raw[2 * i + 1]
            if kind == "blob":
                raise LogError(f"{table} row {number}: {column} is a BLOB, which no export carries")
            if kind == "text":
                try:
                    value = bytes(value).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise LogError(f"{table} row {number}: {column} is not UTF-8 text") from exc
            row[column] = value
        yield row


def export_lines(log: ConsensusLog) -> Iterator[str]:
    """The export of `log`, line by line (no newlines); `LogError` on a row no export
    carries. Run it inside one read transaction for a consistent snapshot
    (`iter_export` does)."""
    try:
        owner = log.owner()
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        raise LogError(f"the log's owner cannot be read: {exc}") from exc
    yield json.dumps({"export": HEADER, "schema": log.schema_version, "owner": owner})
    rows = 0
    for table, key in TABLES.items():
        for row in _stored(log.db, table, key):
            rows += 1
            yield json.dumps({"table": table, "row": row}, separators=(",", ":"))
    yield _end(rows)


def iter_export(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Generator[bytes, None, None]:
    """The export of the log file at `path` in chunks of whole lines (about
    `chunk_bytes` each), from a read-only connection of its own holding one read
    transaction (a snapshot: appends made meanwhile are not in it). Use it from one
    thread (SQLite's rule for a connection)."""
    log = ConsensusLog(path, readonly=True)
    try:
        log.db.execute("BEGIN")  # one snapshot for every table; WAL lets writers go on
        parts: list[str] = []
        size = 0
        for line in export_lines(log):
            parts.append(line)
            size += len(line) + 1
            if size >= chunk_bytes:
                yield ("\n".join(parts) + "\n").encode("utf-8")
                parts, size = [], 0
        if parts:
            yield ("\n".join(parts) + "\n").encode("utf-8")
    except sqlite3.Error as exc:  # a damaged file
        raise LogError(f"cannot read consensus log {path}: {exc}") from exc
    finally:
        with suppress(Exception):
            log.db.execute("COMMIT")
        log.close()


async def stream_export(path: Path, chunk_bytes: int = CHUNK_BYTES) -> AsyncGenerator[bytes, None]:
    """`iter_export` on a thread of its own, one chunk per step of the consumer: the
    next chunk is read only when the consumer asks for it. Closing the iterator (or
    cancelling the consumer) stops the read and closes the connection."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-export")
    chunks = iter_export(path, chunk_bytes)
    try:
        while True:
            chunk = await loop.run_in_executor(executor, next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        # the generator was started in the executor's thread: close it there
        await asyncio.shield(loop.run_in_executor(executor, chunks.close))
        executor.shutdown(wait=False)


def read_lines(f: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of binary file `f`, each read up to `max_line_bytes` (`LogError` for a
    longer one, before more of it is read)."""
    number = 0
    while True:
        line = f.readline(max_line_bytes + 2)
        if not line:
            return
        number += 1
        if len(line.rstrip(b"\r\n")) > max_line_bytes:
            raise LogError(f"export line {number} is longer than {max_line_bytes} bytes")
        yield line


def import_lines(
    lines: Iterable[str | bytes],
    path: Path,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_lines: int = MAX_EXPORT_LINES,
    max_bytes: int = MAX_EXPORT_BYTES,
) -> ConsensusLog:
    """A new log file at `path` holding the exported rows (`LogError`, and no file, if
    the lines are not a whole export of this schema within the bounds)."""
    if path.exists():
        raise LogError(f"{path} exists; an import makes a new file")
    try:
        return _import(lines, path, max_line_bytes, max_lines, max_bytes)
    except BaseException as exc:
        for name in (str(path), f"{path}-wal", f"{path}-shm"):
            Path(name).unlink(missing_ok=True)
        if isinstance(exc, LogError) or not isinstance(exc, Exception):
            raise
        raise LogError(f"the export's rows do not fit the log: {exc}") from exc


def _import(
    lines: Iterable[str | bytes], path: Path, max_line_bytes: int, max_lines: int, max_bytes: int
) -> ConsensusLog:
    header: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    log: ConsensusLog | None = None
    columns: dict[str, set[str]] = {}
    pending: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    count = total = rows = 0
    try:
        for number, line in enumerate(lines, start=1):
            data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
            data = data.rstrip(b"\r\n")
            count, total = count + 1, total + len(data) + 1
            if count > max_lines or total > max_bytes:
                raise LogError(f"the export is longer than {max_lines} lines or {max_bytes} bytes")
            if len(data) > max_line_bytes:
                raise LogError(f"export line {number} is longer than {max_line_bytes} bytes")
            if not data.strip():
                continue
            try:
                item = loads(data, max_line_bytes, max_depth=2)
            except JsonRefused as exc:
                raise LogError(f"export line {number} is not a line of an export: {exc}") from exc
            if end is not None:
                raise LogError(f"export line {number} comes after the end line")
            if header is None:
                header = _header(item)
                log = ConsensusLog(path)
                columns = {t: set(log.db[t].columns_dict) for t in TABLES}
                continue
            if isinstance(item, dict) and set(item) == {"end", "rows"}:
                end = item
                continue
            table, row = _row(item, number, columns)
            pending[table].append(row)
            rows += 1
            if len(pending[table]) >= _INSERT_BATCH:
                assert log is not None
                log.db[table].insert_all(pending[table])
                pending[table] = []
        if header is None or log is None:
            raise LogError("the export is empty")
        if end is None or end.get("end") != HEADER or end.get("rows") != rows:
            raise LogError("the export is cut short (its end line is missing or counts otherwise)")
        for table, found in pending.items():
            if found:
                log.db[table].insert_all(found)
    except BaseException:
        if log is not None:
            log.close()
        raise
    return log


def _header(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or item.get("export") != HEADER:
        raise LogError("not a consensus log export (no header line)")
    if item.get("schema") != len(MIGRATIONS):
        raise LogError(
            f"the export has schema {item.get('schema')!r:.40}; this code reads {len(MIGRATIONS)}"
        )
    return item


def _row(item: Any, number: int, columns: dict[str, set[str]]) -> tuple[str, dict[str, Any]]:
    if not isinstance(item, dict) or item.get("table") not in TABLES:
        raise LogError(f"export line {number} is not a row of {', '.join(TABLES)}")
    row = item.get("row")
    if not isinstance(row, dict) or not row:
        raise LogError(f"export line {number} has no row")
    table = str(item["table"])
    unknown = set(row) - columns[table]
    if unknown:
        raise LogError(f"export line {number}: {table} has no column of {len(unknown)} it names")
    if not all(_scalar(v) for v in row.values()):
        raise LogError(f"export line {number}: a value is not text, a number or null")
    return table, row


def _scalar(value: Any) -> bool:
    """A value a column holds: text, a number (not a boolean) or null."""
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))
