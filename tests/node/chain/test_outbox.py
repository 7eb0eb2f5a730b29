"""The outbox and joining the registry, on the embedded py-evm chain with a real
SQLite journal: nothing lost while the RPC is down, nothing applied twice after a
crash at any step, and clear refusals at start."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3

from contracts import merkle
from contracts.client import Chain
from contracts.embedded import EmbeddedChain
from node.chain.membership import join
from node.chain.outbox import Outbox
from node.config import load_config
from node.errors import ConfigError
from node.journal import Journal
from node.peers.directory import Directory
from node.peers.transport import PeerClient
from reputation.chainlog import update_outbox
from tests.procs import free_port

ROOT = merkle.root(["0x" + "11" * 32, "0x" + "22" * 32])


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedChain, Chain, Journal, object]]:
    embedded = await EmbeddedChain.start()
    chain = await embedded.connect()
    journal = await Journal.open(tmp_path / "consensus.db")
    account = Account.create()
    await embedded.fund(account.address, 10 * 10**18)
    try:
        yield embedded, chain, journal, account
    finally:
        await journal.close()


async def registered(chain: Chain, journal: Journal, account: object) -> Outbox:
    outbox = Outbox(chain, account, journal)
    await join(chain, outbox, account, "http://127.0.0.1:9", "m", 10**18, 30)
    return outbox


def dead_chain(chain: Chain) -> Chain:
    """The same contract behind an RPC URL where nothing listens."""
    w3 = AsyncWeb3(AsyncHTTPProvider(f"http://127.0.0.1:{free_port()}"))
    return Chain(w3, chain.address, chain.chain_id)


async def test_writes_wait_while_the_rpc_is_down_and_go_out_once_it_is_back(setup) -> None:
    _, chain, journal, account = setup
    outbox = await registered(chain, journal, account)
    outbox.chain = dead = dead_chain(chain)
    assert await outbox.put("commit:0", "commit", [0, ROOT, 2])
    assert not await outbox.put("commit:0", "commit", [0, ROOT, 2])  # one write per key
    with pytest.raises(Exception, match="unavailable"):
        await outbox.drain()
    await dead.close()
    row = await outbox.row("commit:0")
    assert row is not None and row.status == "pending"
    outbox.chain = chain  # the RPC is back
    assert await outbox.drain()
    row = await outbox.row("commit:0")
    assert row is not None and row.status == "done" and row.block is not None
    assert await chain.root(account.address, 0) == ROOT
    assert len(await chain.events("Committed")) == 1


async def test_a_signed_but_unsent_write_is_broadcast_as_is_after_a_restart(setup) -> None:
    _, chain, journal, account = setup
    first = await registered(chain, journal, account)
    await first.put("commit:0", "commit", [0, ROOT, 2])
    row = await first.row("commit:0")
    assert row is not None
    nonce = await chain.nonce(account.address)
    tx_hash, raw = await chain.signed_call(account, "commit", [0, ROOT, 2], 0, nonce)
    # the node stored the signed transaction, then died before sending it
    await journal.read(
        lambda db: update_outbox(
            db, row.id, status="sent", tx_hash=tx_hash, raw_tx=raw, nonce=nonce
        )
    )
    again = Outbox(chain, account, journal)
    assert not await again.drain()  # re-broadcast; mined at once, seen at the next pass
    assert await again.drain()
    done = await again.row("commit:0")
    assert done is not None and done.status == "done" and done.tx_hash == tx_hash
    assert len(await chain.events("Committed")) == 1


async def test_a_write_sent_but_forgotten_is_not_applied_twice(setup) -> None:
    _, chain, journal, account = setup
    outbox = await registered(chain, journal, account)
    await outbox.put("commit:0", "commit", [0, ROOT, 2])
    assert await outbox.drain()
    row = await outbox.row("commit:0")
    assert row is not None
    # the node lost the row's progress (restored an old copy of its log): sent again
    await journal.read(
        lambda db: update_outbox(db, row.id, status="pending", tx_hash=None, raw_tx=None)
    )
    assert await outbox.drain()
    assert len(await chain.events("Committed")) == 1  # the contract ignores the replay
    assert await chain.batches(account.address) == 1


async def test_a_write_the_contract_refuses_fails_with_its_reason(setup) -> None:
    _, chain, journal, account = setup
    outbox = await registered(chain, journal, account)
    await outbox.put("commit:5", "commit", [5, ROOT, 2])  # batches go in order
    assert await outbox.drain()
    row = await outbox.row("commit:5")
    assert row is not None and row.status == "failed"
    assert "committed in order" in (row.error or "")


async def test_joining_updates_the_endpoint_and_a_new_model_loses_the_admission(setup) -> None:
    _, chain, journal, account = setup
    outbox = await registered(chain, journal, account)  # a genesis seat: capable at once
    assert await chain.capable(account.address)
    await join(chain, outbox, account, "http://127.0.0.1:10", "m", 10**18, 30)
    assert (await chain.member(account.address)).endpoint == "http://127.0.0.1:10"
    assert await chain.capable(account.address)
    await join(chain, outbox, account, "http://127.0.0.1:10", "other", 10**18, 30)
    member = await chain.member(account.address)
    assert member.model == "other" and not await chain.capable(account.address)


async def test_joining_without_funds_is_refused_clearly(setup) -> None:
    _, chain, journal, _ = setup
    poor = Account.create()
    outbox = Outbox(chain, poor, journal)
    with pytest.raises(ConfigError, match="fund it"):
        await join(chain, outbox, poor, "http://127.0.0.1:9", "m", 10**18, 30)
    assert not (await chain.member(poor.address)).registered


async def test_a_node_that_never_registered_refuses_an_unreachable_chain(tmp_path: Path) -> None:
    from node.chain.link import open_chain

    config = load_config(
        None,
        env={},
        overrides={
            "chain": {"rpc_url": f"http://127.0.0.1:{free_port()}", "contract": "0x" + "ab" * 20}
        },
    )
    journal = await Journal.open(tmp_path / "consensus.db")
    client = await PeerClient.create(4)
    account = Account.create()
    try:
        with pytest.raises(ConfigError, match=r"unavailable|unreachable"):
            await open_chain(
                config, account, journal, Directory(account.address, client), "http://x", "m"
            )
    finally:
        await client.close()
        await journal.close()
