"""`GET /swarm/v1/log/export` on a running node (a scripted local swarm: real keys,
HTTP on loopback, real logs; the engine is the `tests.scripted` stand-in) streams
from a read-only connection of its own: the journal's writer neither runs it nor
waits for it."""

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from node.config import load_config
from node.local import start_local_swarm
from reputation.export import import_lines
from tests.node.round.test_branches import nodes, text
from tests.scripted import ScriptedModel

TOKEN = "export-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FILLER = 5000
"""Entries added to node 0's log: about 20 MB of export, more than loopback buffers."""


def entry(i: int) -> dict[str, Any]:
    return {
        "type": "filler",
        "round_id": None,
        "sender": "0x" + "cd" * 20,
        "timestamp": 1_700_000_000 + i,
        "payload": {"i": i, "text": "y" * 4000},
        "signature": "0x00",
    }


@pytest.fixture
async def node(tmp_path) -> AsyncIterator[Any]:
    base = load_config(
        None, env={}, overrides={"sampling": {"max_tokens": 64}, "server": {"audit_token": TOKEN}}
    )
    swarm = await start_local_swarm(
        2, 0, tmp_path, base, nodes(ScriptedModel(), [text("a"), text("b")])
    )
    try:
        first = swarm.nodes[0]
        await asyncio.gather(*(first.ctx.journal.append(entry(i)) for i in range(FILLER)))
        yield first
    finally:
        await swarm.stop()


async def test_the_export_does_not_wait_for_the_journal_writer(node) -> None:
    """The writer thread is held busy (a read that waits on an event, as a long write
    would): the export still streams to its end. It used to be built in that thread,
    so it waited, and every append waited behind it."""
    journal = node.ctx.journal
    held, release = threading.Event(), threading.Event()

    def hold(_: Any) -> None:
        held.set()
        release.wait(300)

    async def export() -> bytes:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{node.url}/swarm/v1/log/export", headers=AUTH) as r,
        ):
            assert r.status == 200
            return await r.read()

    busy = journal.read(hold)
    await asyncio.to_thread(held.wait, 60)
    try:
        body = await asyncio.wait_for(export(), 60)  # a guard: it hung until released
    finally:
        release.set()
        await busy
    lines = body.splitlines()
    assert json.loads(lines[-1])["rows"] >= FILLER


async def test_appends_go_on_while_a_slow_client_reads_the_export(node, tmp_path) -> None:
    journal = node.ctx.journal
    before = await journal.read(lambda log: len(list(log.entries())))
    async with (
        aiohttp.ClientSession(read_bufsize=2**16) as session,
        session.get(f"{node.url}/swarm/v1/log/export", headers=AUTH) as r,
    ):
        assert r.status == 200 and r.headers["Content-Type"] == "application/x-ndjson"
        body = await r.content.readany()  # then the client stops reading for a while
        for i in range(3):  # the node goes on logging meanwhile
            await asyncio.wait_for(journal.append(entry(FILLER + i)), 60)
        assert not r.content.at_eof()  # the export is still being read
        body += await r.read()
    lines = body.splitlines()
    log = import_lines(lines, tmp_path / "imported.db")
    try:
        assert len(list(log.entries())) == before  # the snapshot of the moment it began
    finally:
        log.close()
    assert await journal.read(lambda log: len(list(log.entries()))) == before + 3
