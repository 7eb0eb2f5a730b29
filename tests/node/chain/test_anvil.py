"""anvil from npm, with its state saved: a node's chain writes survive anvil stopping.

The outbox of a real node log drives real transactions on a real anvil process:
writes queued while anvil is down wait; after anvil restarts from its saved state
they go out, and each arrives exactly once.
"""

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3

from contracts import merkle
from contracts.anvil import Anvil, deploy_on, fund
from contracts.client import Chain, ChainUnavailable
from contracts.params import ChainParams
from contracts.settlement import SCALE, Settlement, sign
from node.chain.membership import join
from node.chain.outbox import Outbox
from node.journal import Journal
from tests.procs import free_port


async def test_writes_queued_while_anvil_is_down_arrive_once_after_it_restarts(
    tmp_path: Path,
) -> None:
    state = tmp_path / "anvil-state.json"
    anvil = Anvil.start(free_port(), state, tmp_path / "anvil.log")
    journal = await Journal.open(tmp_path / "consensus.db")
    try:
        deployment = await deploy_on(anvil.rpc_url)
        account = Account.create()
        await fund(anvil.rpc_url, account.address, 10 * 10**18)
        w3 = AsyncWeb3(AsyncHTTPProvider(anvil.rpc_url))
        chain = await Chain.connect(w3, deployment.contract)
        outbox = Outbox(chain, account, journal)
        await join(chain, outbox, account, "http://127.0.0.1:9", "m", 10**18, 30)
        roots = [merkle.root(["0x" + bytes([b] * 32).hex()]) for b in range(3)]
        await outbox.put("commit:0", "commit", [0, roots[0], 1])
        assert await outbox.drain()

        anvil.stop()  # anvil writes its state and exits
        await outbox.put("commit:1", "commit", [1, roots[1], 1])
        await outbox.put("commit:2", "commit", [2, roots[2], 1])
        with pytest.raises(ChainUnavailable):
            await outbox.drain()
        anvil = Anvil.start(anvil.port, state, tmp_path / "anvil.log")  # from its state
        for _ in range(20):
            if await outbox.drain():
                break
        assert await chain.member(account.address) is not None
        assert await chain.batches(account.address) == 3
        for i, root in enumerate(roots):
            assert await chain.root(account.address, i) == root
            row = await outbox.row(f"commit:{i}")
            assert row is not None and row.status == "done"
        committed = await chain.events("Committed")
        assert sorted(e["args"]["batch"] for e in committed) == [0, 1, 2]  # once each
        await chain.close()
    finally:
        await journal.close()
        anvil.stop()


async def test_a_pooled_write_is_waited_for_not_signed_again(tmp_path: Path) -> None:
    """Our own transaction waiting in the pool counts in the pending nonce: the
    outbox must keep following it, not take the nonce as used by another."""
    anvil = Anvil.start(free_port())
    journal = await Journal.open(tmp_path / "consensus.db")
    try:
        deployment = await deploy_on(anvil.rpc_url)
        account = Account.create()
        await fund(anvil.rpc_url, account.address, 10 * 10**18)
        chain = await Chain.at(anvil.rpc_url, deployment.contract)
        outbox = Outbox(chain, account, journal)
        await join(chain, outbox, account, "http://127.0.0.1:9", "m", 10**18, 30)
        await chain.w3.provider.make_request("evm_setAutomine", [False])
        root = merkle.root(["0x" + "22" * 32])
        await outbox.put("commit:0", "commit", [0, root, 1])
        assert not await outbox.drain()  # sent, not mined
        sent = await outbox.row("commit:0")
        assert sent is not None and sent.status == "sent"
        assert not await outbox.drain()  # still pooled: followed, not signed anew
        again = await outbox.row("commit:0")
        assert again is not None and (again.status, again.tx_hash) == ("sent", sent.tx_hash)
        await chain.w3.provider.make_request("evm_mine", [])
        assert await outbox.drain()
        assert len(await chain.events("Committed")) == 1
        await chain.close()
    finally:
        await journal.close()
        anvil.stop()


async def _three_committers(
    tmp_path: Path, anvil: Anvil
) -> tuple[Chain, Any, list[Any], list[Outbox], Settlement]:
    """Three founders on a fresh deployment, each with batch 0 committed (the same
    root), their outboxes, and the settlement of the first one's batch."""
    deployment = await deploy_on(anvil.rpc_url, ChainParams(genesis_seats=3))
    chain = await Chain.at(anvil.rpc_url, deployment.contract)
    accounts = [Account.create() for _ in range(3)]
    outboxes = []
    root = merkle.root(["0x" + "33" * 32])
    for i, account in enumerate(accounts):
        await fund(anvil.rpc_url, account.address, 10 * 10**18)
        outbox = Outbox(chain, account, await Journal.open(tmp_path / f"n{i}.db"))
        await join(chain, outbox, account, f"http://127.0.0.1:{9 + i}", "m", 10**18, 30)
        await outbox.put("commit:0", "commit", [0, root, 1])
        assert await outbox.drain()
        outboxes.append(outbox)
    settlement = Settlement(
        accounts[0].address,
        0,
        root,
        tuple(a.address for a in accounts),
        ((accounts[1].address, SCALE),),
    )
    return chain, deployment, accounts, outboxes, settlement


def _settle_args(s: Settlement, accounts: list[Any], chain: Chain) -> list[Any]:
    return s.call_args([sign(a, s, chain.chain_id, chain.contract.address) for a in accounts])


async def test_a_settlement_signed_right_after_another_does_not_run_out_of_gas(
    tmp_path: Path,
) -> None:
    """Gas is estimated on the latest block: right after a settlement of the same
    participants their `last_seen` already holds that block's time, so writing it
    looks free; mined a block later it is a full write. The margin covers it."""
    anvil = Anvil.start(free_port())
    outboxes: list[Outbox] = []
    try:
        chain, _, accounts, outboxes, first = await _three_committers(tmp_path, anvil)
        await outboxes[0].put("settle:0", "settle", _settle_args(first, accounts, chain))
        assert await outboxes[0].drain()
        second = replace(first, committer=accounts[1].address)
        await outboxes[1].put("settle:0", "settle", _settle_args(second, accounts, chain))
        latest = await chain.w3.eth.get_block("latest")
        await chain.w3.provider.make_request("evm_setNextBlockTimestamp", [latest["timestamp"] + 5])
        assert await outboxes[1].drain()
        row = await outboxes[1].row("settle:0")
        assert row is not None and (row.status, row.attempts) == ("done", 1), row
        assert await chain.settled(accounts[1].address, 0)
        await chain.close()
    finally:
        for outbox in outboxes:
            await outbox.journal.close()
        anvil.stop()


async def test_a_mined_revert_is_recorded_with_its_reason(tmp_path: Path) -> None:
    """Writes that pass their estimates are mined in one block, where an earlier one
    makes a later one revert: a revert that means 'already done' counts as done,
    any other is failed with the contract's reason, not a bare 'reverted'."""
    anvil = Anvil.start(free_port())
    outboxes: list[Outbox] = []
    twin = None
    try:
        chain, _, accounts, outboxes, first = await _three_committers(tmp_path, anvil)
        await chain.w3.provider.make_request("evm_setAutomine", [False])
        args = _settle_args(first, accounts, chain)
        await outboxes[0].put("settle:0", "settle", args)
        await outboxes[2].put("settle:0:for-0", "settle", args)  # anyone may submit it
        # a second process with node 1's key commits its batch 1 with another root
        twin = Outbox(chain, accounts[1], await Journal.open(tmp_path / "twin.db"))
        roots = [merkle.root(["0x" + f"{b:02x}" * 32]) for b in (0x44, 0x55)]
        await outboxes[1].put("commit:1", "commit", [1, roots[0], 1])
        await twin.put("commit:1", "commit", [1, roots[1], 1])
        for outbox in (*outboxes, twin):
            assert not await outbox.drain()  # pooled, not mined
        await chain.w3.provider.make_request("evm_mine", [])
        for outbox in (*outboxes, twin):
            assert await outbox.drain()
        rows = [await outboxes[0].row("settle:0"), await outboxes[2].row("settle:0:for-0")]
        assert all(r is not None and r.status == "done" for r in rows)
        assert len(await chain.events("Settled")) == 1  # the other reverted, as done
        assert sum(r is not None and r.error == "batch already settled" for r in rows) == 1
        commits = [await outboxes[1].row("commit:1"), await twin.row("commit:1")]
        assert sorted(str(r and r.status) for r in commits) == ["done", "failed"]
        (failed,) = [r for r in commits if r is not None and r.status == "failed"]
        assert failed.error == "batch already committed with another root"
        assert failed.block == await chain.block_number()  # mined, then found reverted
        await chain.close()
    finally:
        for outbox in outboxes:
            await outbox.journal.close()
        if twin is not None:
            await twin.journal.close()
        anvil.stop()
