"""The log export streams from a snapshot of its own, and an import of an export is
bounded: real SQLite files in `tmp_path`, a real loopback HTTP server standing in
for a hostile node (named as such), `swarm audit --url` run as a user runs it."""

import asyncio
import json
import sqlite3
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from reputation.export import import_lines, iter_export, stream_export
from reputation.log import ConsensusLog, LogError, verify_chain
from tests.procs import free_port

SWARM = [sys.executable, "-m", "node.cli"]


def message(i: int, size: int = 64) -> dict[str, Any]:
    """An entry of the log (the export copies rows; it does not check signatures)."""
    return {
        "type": "answer",
        "round_id": "0x" + f"{i:064x}",
        "sender": "0x" + "ab" * 20,
        "timestamp": 1_700_000_000 + i,
        "payload": {"i": i, "text": "x" * size},
        "signature": "0x00",
    }


def make_log(path: Path, count: int, size: int = 64) -> None:
    log = ConsensusLog(path)
    try:
        for start in range(0, count, 500):
            log.write([_append(message(i, size)) for i in range(start, min(count, start + 500))])
    finally:
        log.close()


def _append(m: dict[str, Any]) -> Any:
    from reputation.log import Append

    return Append(m)


def export_of(path: Path) -> list[bytes]:
    return b"".join(iter_export(path)).splitlines()


def test_an_export_imports_to_the_same_rows_and_ends_with_its_count(tmp_path) -> None:
    make_log(tmp_path / "log.db", 50)
    lines = export_of(tmp_path / "log.db")
    assert json.loads(lines[-1]) == {"end": "swarm-consensus-log", "rows": 50}
    log = import_lines(lines, tmp_path / "copy.db")
    try:
        assert verify_chain(log.entries()) == 50
    finally:
        log.close()


def test_an_export_cut_short_is_refused_and_leaves_no_file(tmp_path) -> None:
    make_log(tmp_path / "log.db", 20)
    lines = export_of(tmp_path / "log.db")
    for cut in (
        lines[:-1],
        lines[:-5],
        [*lines[:-1], json.dumps({"end": "swarm-consensus-log", "rows": 1})],
    ):
        with pytest.raises(LogError, match="cut short"):
            import_lines(cut, tmp_path / "copy.db")
        assert not (tmp_path / "copy.db").exists()
    with pytest.raises(LogError, match="after the end line"):
        import_lines([*lines, lines[1]], tmp_path / "copy.db")


def test_an_import_is_bounded_per_line_and_in_total(tmp_path) -> None:
    make_log(tmp_path / "log.db", 20, size=2000)
    lines = export_of(tmp_path / "log.db")
    target = tmp_path / "copy.db"
    header = lines[0]
    for bad, says in (  # a line nested 100,000 deep: in a process of its own, below
        ([header, b'{"table":"messages","row":{"raw":[1]}}'], "nested 3 deep"),
        ([header, b'{"table":"messages","row":{"nope":1}}'], "has no column"),
        ([header, b'{"table":"outbox","row":{"id":1}}'], "not a row of"),
        ([header, b'{"table":"messages","row":{"seq":true}}'], "not text, a number or null"),
        ([b'{"export":"swarm-consensus-log","schema":"<b>"}'], "schema"),
    ):
        with pytest.raises(LogError, match=says):
            import_lines(bad, target)
        assert not target.exists()
    with pytest.raises(LogError, match="longer than 1000 bytes"):
        import_lines(lines, target, max_line_bytes=1000)
    with pytest.raises(LogError, match="longer than 10 lines"):
        import_lines(lines, target, max_lines=10)
    with pytest.raises(LogError, match="or 20000 bytes"):
        import_lines(lines, target, max_bytes=20_000)
    assert not target.exists()


def test_an_export_refuses_a_value_no_export_carries(tmp_path) -> None:
    make_log(tmp_path / "log.db", 5)
    with sqlite3.connect(tmp_path / "log.db") as conn:
        conn.execute("UPDATE messages SET raw = CAST(raw AS BLOB) WHERE seq = 3")
    with pytest.raises(LogError, match="messages row 3: raw is a BLOB"):
        export_of(tmp_path / "log.db")
    with sqlite3.connect(tmp_path / "log.db") as conn:
        conn.execute("UPDATE messages SET raw = CAST(X'7bff' AS TEXT) WHERE seq = 3")
    with pytest.raises(LogError, match="messages row 3: raw is not UTF-8"):
        export_of(tmp_path / "log.db")


def test_the_export_is_a_snapshot_and_appends_go_on_while_it_is_read(tmp_path) -> None:
    """A writer on the same file appends while the export is half read: it is not
    blocked, and the export holds the rows of the moment it began."""
    path = tmp_path / "log.db"
    make_log(path, 2000)
    chunks = iter_export(path, chunk_bytes=4096)
    first = next(chunks)
    writer = ConsensusLog(path)
    try:
        for i in range(2000, 2010):
            writer.append(message(i))
        assert len(list(writer.entries())) == 2010
    finally:
        writer.close()
    lines = (first + b"".join(chunks)).splitlines()
    assert json.loads(lines[-1])["rows"] == 2000
    assert sum(b'"table":"messages"' in line for line in lines) == 2000


async def test_the_stream_holds_a_chunk_not_the_log(tmp_path) -> None:
    """Read a chunk at a time from a log of about 30 MB: Python never holds more than
    a few chunks of it (the route used to build every line in a list first)."""
    path = tmp_path / "log.db"
    make_log(path, 3000, size=10_000)
    assert path.stat().st_size > 30_000_000
    tracemalloc.start()
    try:
        size = 0
        async for chunk in stream_export(path, chunk_bytes=256 * 1024):
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 30_000_000
    assert peak < 5_000_000, peak


async def test_closing_the_stream_part_way_stops_the_read(tmp_path) -> None:
    path = tmp_path / "log.db"
    make_log(path, 2000)
    stream = stream_export(path, chunk_bytes=4096)
    await anext(stream)
    await stream.aclose()
    writer = ConsensusLog(path)  # the snapshot is released: a checkpoint can complete
    try:
        busy, _, _ = writer.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        writer.close()


async def test_a_hostile_node_s_nested_export_is_a_one_line_error(tmp_path) -> None:
    """A node (a loopback server standing in for a hostile one) serves an export
    whose second line is nested 100,000 deep: `swarm audit --url` exits 2 with one
    line. Before the import was bounded this was a SIGSEGV of the auditor."""
    make_log(tmp_path / "log.db", 1)
    header = export_of(tmp_path / "log.db")[0]
    body = header + b"\n" + b'{"table":"messages","row":' + b"[" * 100_000 + b"\n"

    async def export(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/x-ndjson")

    app = web.Application()
    app.router.add_get("/swarm/v1/log/export", export)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        proc = await asyncio.create_subprocess_exec(
            *SWARM,
            "audit",
            "--url",
            f"http://127.0.0.1:{port}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        await runner.cleanup()
    text = err.decode()
    assert proc.returncode == 2, (proc.returncode, text[-2000:])
    assert "export line 2" in text and "nested" in text and "Traceback" not in text
