"""`swarm reputation` on a real anvil chain: members, stake, reputation on chain and
decayed, the history of changes, and the plot."""

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner
from eth_account import Account

from contracts import merkle
from contracts.anvil import Anvil, deploy_on, fund
from contracts.client import Chain
from contracts.settlement import SCALE, Settlement, sign
from node.chain.membership import join
from node.chain.outbox import Outbox
from node.cli import main
from node.journal import Journal
from reputation.history import ReputationHistory
from reputation.rules import HALF_LIFE
from tests.procs import free_port


async def settled_chain(rpc_url: str, tmp_path: Path) -> tuple[str, list]:
    """Three registered nodes and one settled batch: +1 to the second, -0.5 to the third."""
    deployment = await deploy_on(rpc_url)
    accounts = [Account.create() for _ in range(3)]
    chain = await Chain.at(rpc_url, deployment.contract)
    outboxes = []
    for i, account in enumerate(accounts):
        await fund(rpc_url, account.address, 10 * 10**18)
        journal = await Journal.open(tmp_path / f"n{i}.db")
        outbox = Outbox(chain, account, journal)
        await join(chain, outbox, account, f"http://127.0.0.1:{9000 + i}", "m", 10**18, 30)
        outboxes.append((outbox, journal))
    root = merkle.root(["0x" + "11" * 32])
    committer, (outbox, _) = accounts[0], outboxes[0]
    await outbox.put("commit:0", "commit", [0, root, 1])
    changes = ((accounts[1].address, SCALE), (accounts[2].address, -SCALE // 2))
    settlement = Settlement(
        committer.address,
        0,
        root,
        tuple(sorted(a.address for a in accounts)),
        tuple(sorted(changes)),
    )
    signers = sorted(accounts[:2], key=lambda a: a.address)
    signatures = [sign(a, settlement, chain.chain_id, chain.address) for a in signers]
    await outbox.put("settle:0", "settle", settlement.call_args(signatures))
    assert await outbox.drain()
    history = ReputationHistory()
    for _ in range(2):  # read incrementally: a second update adds nothing twice
        await history.update(chain)
        assert sorted(c.points for c in history.changes) == [-0.5, 1.0]
    assert history.decayed(accounts[1].address, history.changes[0].time) == 1.0
    assert history.decayed(accounts[1].address, history.changes[0].time + HALF_LIFE) == 0.5
    await chain.close()
    for _, journal in outboxes:
        await journal.close()
    return deployment.contract, accounts


def test_reputation_lists_members_history_and_plot(tmp_path: Path) -> None:
    anvil = Anvil.start(free_port())
    try:
        contract, accounts = asyncio.run(settled_chain(anvil.rpc_url, tmp_path))
        config = tmp_path / "node.toml"
        config.write_text(f'[chain]\nrpc_url = "{anvil.rpc_url}"\ncontract = "{contract}"\n')
        plot = tmp_path / "reputation.png"
        runner = CliRunner()
        args = ["reputation", "--config", str(config), "--history", "--plot", str(plot), "--json"]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        body = json.loads(result.output)
        rows = {r["node"]: r for r in body["nodes"]}
        assert set(rows) == {a.address for a in accounts}
        assert rows[accounts[1].address]["reputation"] == 1.0
        assert rows[accounts[2].address]["reputation"] == -0.5
        assert 0.99 < rows[accounts[1].address]["decayed"] <= 1.0  # minutes old: barely decayed
        assert rows[accounts[1].address]["weight"] > rows[accounts[0].address]["weight"]
        assert rows[accounts[0].address]["weight"] > rows[accounts[2].address]["weight"]
        assert all(r["stake_ether"] == 1.0 and r["active"] for r in rows.values())
        assert sorted(e["points"] for e in body["history"]) == [-0.5, 1.0]
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        table = runner.invoke(main, ["reputation", "--config", str(config)])
        assert table.exit_code == 0 and "Registry of" in table.output
        assert "+1.000" in table.output and "-0.500" in table.output
    finally:
        anvil.stop()
