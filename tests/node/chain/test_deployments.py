"""Outbox rows bound to their deployment, and keys unique per intent.

The lies tested: a node whose log says it registered, started on a reset chain
(a new embedded chain, same log), believed it and sent nothing; a model change
A→B→A→B dropped the last update and reported it done. Real: the embedded py-evm
chain, the contract, SQLite logs, HTTP on loopback; the engine is the scripted
stand-in.
"""

import logging
from pathlib import Path

import pytest
from eth_account import Account

from contracts.embedded import EmbeddedChain
from node.chain.membership import join
from node.chain.outbox import Outbox
from node.config import load_config
from node.errors import ConfigError
from node.journal import Journal
from node.local import start_local_swarm
from reputation.chainlog import outbox_backlog
from tests.node.round.test_branches import nodes, text
from tests.scripted import ScriptedModel

URL = "http://127.0.0.1:9"


async def _funded(embedded: EmbeddedChain, account: object) -> None:
    await embedded.fund(account.address, 10 * 10**18)  # type: ignore[attr-defined]


async def test_a_node_on_a_reset_chain_registers_anew(tmp_path: Path, caplog) -> None:
    """`swarm up` twice on the embedded chain: the second chain is new, the logs old."""
    base = load_config(None, env={})
    model = ScriptedModel()
    first = await start_local_swarm(3, 0, tmp_path, base, nodes(model, [text(t) for t in "abc"]))
    old = first.nodes[0].ctx.chain.chain.address
    await first.stop()
    caplog.set_level(logging.WARNING, logger="node.chain.link")
    again = await start_local_swarm(3, 0, tmp_path, base, nodes(model, [text(t) for t in "abc"]))
    try:
        chain = again.nodes[0].ctx.chain.chain
        for node in again.nodes:
            assert (await chain.member(node.ctx.address)).registered
        assert chain.address != old  # a new deployment, not the old one again
        assert len(await chain.events("Registered")) == 3
        said = [r.getMessage() for r in caplog.records if "never wrote to" in r.getMessage()]
        assert len(said) == 3 and all("registering anew" in line for line in said)
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
