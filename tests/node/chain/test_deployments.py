"""Outbox rows bound to their deployment, and keys unique per intent.

The lies tested: a node whose log says it registered, started on a reset chain
(a new embedded chain, same log), believed it and sent nothing; a model change
A→B→A→B dropped the last update and reported it done. Real: the embedded py-evm
chain, the contract, SQLite logs, HTTP on loopback; the engine is the scripted
stand-in.
"""

import logging
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlite_utils
from eth_account import Account

from contracts.embedded import EmbeddedChain
from node.chain.membership import join
from node.chain.outbox import Outbox
from node.config import load_config
from node.errors import ConfigError
from node.journal import Journal
from node.local import LocalSwarm, start_local_swarm
from reputation.chainlog import adopt_unbound, at, outbox_backlog, outbox_row
from reputation.log import MIGRATIONS, ConsensusLog
from tests.node.round.test_branches import nodes, text
from tests.scripted import ScriptedBackend, ScriptedModel

URL = "http://127.0.0.1:9"
CHAIN = {"chain": {"batch_rounds": 1, "batch_seconds": 3600}}


def backends(model: ScriptedModel) -> list[ScriptedBackend]:
    return nodes(model, [text(t, best=t == "a") for t in "abc"])


async def ask(swarm: LocalSwarm, prompt: str) -> tuple[int, dict[str, Any]]:
    body = {"model": "swarm", "messages": [{"role": "user", "content": prompt}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(swarm.endpoint + "/chat/completions", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def _funded(embedded: EmbeddedChain, account: object) -> None:
    await embedded.fund(account.address, 10 * 10**18)  # type: ignore[attr-defined]


async def test_a_node_on_a_reset_chain_registers_anew(tmp_path: Path, caplog) -> None:
    """`swarm up` twice on the embedded chain: the second chain is new, the logs old.
    Each node registers again, says so, and commits its earlier batches there."""
    base = load_config(None, env={}, overrides=CHAIN)
    model = ScriptedModel()
    first = await start_local_swarm(3, 0, tmp_path, base, backends(model))
    try:
        assert (await ask(first, "Name a river."))[0] == 200
        link = first.nodes[0].ctx.chain
        await link.batcher.tick(force=True)
        await link.outbox.drain()
        old = link.chain.address
        assert await link.chain.batches(first.nodes[0].ctx.address) == 1
    finally:
        await first.stop()
    caplog.set_level(logging.WARNING, logger="node.chain.link")
    again = await start_local_swarm(3, 0, tmp_path, base, backends(model))
    try:
        link = again.nodes[0].ctx.chain
        chain = link.chain
        for node in again.nodes:
            assert (await chain.member(node.ctx.address)).registered
        assert chain.address != old  # a new deployment, not the old one again
        assert len(await chain.events("Registered")) == 3
        said = [r.getMessage() for r in caplog.records if "never wrote to" in r.getMessage()]
        assert len(said) == 3 and all("registering anew" in line for line in said)
        await link.outbox.drain()  # the earlier batch, committed on the new chain
        assert await chain.batches(again.nodes[0].ctx.address) == 1
    finally:
        await again.stop()


async def test_rows_of_another_deployment_are_neither_sent_nor_trusted(tmp_path: Path) -> None:
    old, new = await EmbeddedChain.start(), await EmbeddedChain.start()
    account = Account.create()
    await _funded(old, account)
    await _funded(new, account)
    journal = await Journal.open(tmp_path / "consensus.db")
    try:
        before = Outbox(await old.connect(), account, journal)
        await join(await old.connect(), before, account, URL, "m", 10**18, 30)
        await before.put("stake:extra", "stake", [], 10**17)  # queued, never sent there
        after = Outbox(await new.connect(), account, journal)
        assert await after.row("register") is None
        assert await after.drain()  # nothing of the old deployment is sent here
        assert not (await (await new.connect()).member(account.address)).registered
        assert await journal.read(lambda db: outbox_backlog(db, after.at)) == {}
    finally:
        await journal.close()


async def test_a_model_changed_back_and_forth_sends_every_update(tmp_path: Path) -> None:
    embedded = await EmbeddedChain.start()
    chain = await embedded.connect()
    account = Account.create()
    await _funded(embedded, account)
    journal = await Journal.open(tmp_path / "consensus.db")
    try:
        outbox = Outbox(chain, account, journal)
        for model in ("A", "B", "A", "B"):
            await join(chain, outbox, account, URL, model, 10**18, 30)
            assert (await chain.member(account.address)).model == model
        assert [e["args"]["model"] for e in await chain.events("Updated")] == ["B", "A", "B"]
    finally:
        await journal.close()


async def test_the_same_update_replayed_after_a_restart_is_one_write(tmp_path: Path) -> None:
    embedded = await EmbeddedChain.start()
    chain = await embedded.connect()
    account = Account.create()
    await _funded(embedded, account)
    journal = await Journal.open(tmp_path / "consensus.db")
    try:
        await join(chain, Outbox(chain, account, journal), account, URL, "A", 10**18, 30)
        with pytest.raises(ConfigError, match="did not mine"):  # queued, then the node died
            await join(chain, Outbox(chain, account, journal), account, URL, "B", 10**18, 0)
        restarted = Outbox(chain, account, journal)
        await join(chain, restarted, account, URL, "B", 10**18, 30)
        assert (await chain.member(account.address)).model == "B"
        assert len(await chain.events("Updated")) == 1
        assert await journal.read(lambda db: outbox_backlog(db, restarted.at)) == {"done": 2}
    finally:
        await journal.close()


async def test_an_update_left_queued_is_not_the_last_word_after_a_restart(
    tmp_path: Path,
) -> None:
    """A→B queued but not mined, then the node restarts serving A: the chain still says A,
    but the queued B would be sent by the drain and leave the node advertising B."""
    embedded = await EmbeddedChain.start()
    chain = await embedded.connect()
    account = Account.create()
    await _funded(embedded, account)
    journal = await Journal.open(tmp_path / "consensus.db")
    try:
        await join(chain, Outbox(chain, account, journal), account, URL, "A", 10**18, 30)
        with pytest.raises(ConfigError, match="did not mine"):
            await join(chain, Outbox(chain, account, journal), account, URL, "B", 10**18, 0)
        restarted = Outbox(chain, account, journal)
        await join(chain, restarted, account, URL, "A", 10**18, 30)
        while not await restarted.drain():  # whatever is still queued goes out
            pass
        assert (await chain.member(account.address)).model == "A"
    finally:
        await journal.close()


def test_rows_from_before_the_binding_belong_to_no_deployment_until_adopted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "consensus.db"
    db = sqlite_utils.Database(sqlite3.connect(path))
    for number, migration in enumerate(MIGRATIONS[:-1], start=1):  # the schema before
        migration(db)
        db.execute(f"PRAGMA user_version = {number}")
    db.execute(
        "INSERT INTO outbox (key, function, args, value, status, attempts) "
        "VALUES ('register', 'register', '[]', '0', 'done', 1)"
    )
    db.conn.commit()
    db.conn.close()
    log = ConsensusLog(path)  # migrated at open
    try:
        where = at(31337, "0x" + "AB" * 20)
        assert outbox_row(log, where, "register") is None  # not trusted on any chain
        assert adopt_unbound(log, where) == 1  # the memo's deployment adopts it
        row = outbox_row(log, where, "register")
        assert row is not None and row.status == "done"
        assert outbox_row(log, at(31337, "0x" + "CD" * 20), "register") is None
    finally:
        log.close()
