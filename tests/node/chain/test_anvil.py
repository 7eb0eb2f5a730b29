"""anvil from npm, with its state saved: a node's chain writes survive anvil stopping.

The outbox of a real node log drives real transactions on a real anvil process:
writes queued while anvil is down wait; after anvil restarts from its saved state
they go out, and each arrives exactly once.
"""

from pathlib import Path

import pytest
from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3

from contracts import merkle
from contracts.anvil import Anvil, deploy_on, fund
from contracts.client import Chain, ChainUnavailable
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
