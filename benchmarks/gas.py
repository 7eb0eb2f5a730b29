"""Gas of the swarm's chain writes on the real contract, and gas per round amortized.

Deploys the committed artifact on web3's in-process py-evm chain (gas is the
EVM's, the same on any chain at the same fork), registers `--nodes` nodes, and
measures each write's `gasUsed`: registration, a stake change (stake more, ask to
unstake), a batch's Merkle commitment, and a batch's settlement. A settlement is
what `node.chain.batches` sends: the reputation rules' changes
(`reputation.rules`: every answering author and every judge of a round gains or
loses points), signed by a quorum (a majority) of the participants. So a batch
changes the reputation of every node that took part in any of its rounds: all N
here, at every batch size (the worst case).

Per round amortized at batch size B = (commit + settlement) / B; registration
and stake changes are once per node, not per round.

    python benchmarks/gas.py [--nodes 8] [--json] [--write]
"""

import argparse
import asyncio
import json
from typing import Any

from eth_account import Account
from results import machine_line, write_section

from contracts import merkle
from contracts.capability import Attestation
from contracts.capability import sign as attest_sign
from contracts.embedded import EmbeddedChain
from contracts.settlement import SCALE, Settlement, quorum, sign

BATCHES = (1, 10, 100)


async def send(chain: Any, account: Any, function: str, args: list[Any], value: int = 0) -> int:
    nonce = await chain.nonce(account.address)
    tx_hash, raw = await chain.signed_call(account, function, args, value, nonce)
    await chain.send_raw(raw)
    receipt = await chain.receipt(tx_hash)
    assert receipt is not None and receipt["status"] == 1, function
    return int(receipt["gasUsed"])


async def measure(n: int) -> dict[str, Any]:
    embedded = await EmbeddedChain.start()
    chain = await embedded.connect()
    nodes = [Account.create() for _ in range(n)]
    register = []
    for i, node in enumerate(nodes):
        await embedded.fund(node.address, 10 * 10**18)
        args = [f"http://127.0.0.1:{8000 + i}", "smollm2-135m"]
        register.append(await send(chain, node, "register", args, 10**18))
    # the first three took the genesis seats; one more member, attested by them
    newcomer = Account.create()
    await embedded.fund(newcomer.address, 10 * 10**18)
    await send(chain, newcomer, "register", ["http://127.0.0.1:8999", "smollm2-135m"], 10**18)
    issued = int((await chain.w3.eth.get_block("latest"))["timestamp"])
    claim = Attestation(newcomer.address, "smollm2-135m", 9000, issued)
    sigs = [attest_sign(a, claim, chain.chain_id, chain.address) for a in nodes[:3]]
    attest = await send(
        chain, newcomer, "attest", [newcomer.address, [9000] * 3, [issued] * 3, sigs]
    )
    stake = await send(chain, nodes[0], "stake", [], 10**17)
    unstake = await send(chain, nodes[0], "request_unstake", [10**17])
    coordinator = nodes[0]
    commits, settles = {}, {}
    for index, size in enumerate(BATCHES):
        digests = ["0x" + bytes([index, i % 256, i // 256] + [9] * 29).hex() for i in range(size)]
        root = merkle.root(digests)
        commits[size] = await send(chain, coordinator, "commit", [index, root, size])
        changes = {a.address: (-1) ** i * (SCALE // 3) for i, a in enumerate(nodes)}
        settlement = Settlement(
            coordinator.address,
            index,
            root,
            tuple(sorted(a.address for a in nodes)),
            tuple(sorted(changes.items())),
        )
        need = quorum(n)
        signers = sorted(nodes, key=lambda a: a.address)[:need]
        signatures = [sign(s, settlement, chain.chain_id, chain.address) for s in signers]
        settles[size] = await send(chain, nodes[1], "settle", settlement.call_args(signatures))
    return {
        "nodes": n,
        "quorum": quorum(n),
        "register": round(sum(register) / len(register)),
        "attest": attest,
        "stake": stake,
        "request_unstake": unstake,
        "commit": commits,
        "settle": settles,
        "per_round": {size: round((commits[size] + settles[size]) / size) for size in BATCHES},
    }


def table(r: dict[str, Any]) -> str:
    lines = [
        f"Gas on the real contract ({r['nodes']} registered nodes, settlements signed by a "
        f"quorum of {r['quorum']}; py-evm)",
        "",
        "| write | gas |",
        "|---|---|",
        f"| registration (with stake) | {r['register']:,} |",
        f"| admission with 3 attestations | {r['attest']:,} |",
        f"| stake more | {r['stake']:,} |",
        f"| ask to unstake | {r['request_unstake']:,} |",
        "",
        "| batch size | commit | settlement | per round, amortized |",
        "|---|---|---|---|",
    ]
    for size in BATCHES:
        lines.append(
            f"| {size} | {r['commit'][size]:,} | {r['settle'][size]:,} | {r['per_round'][size]:,} |"
        )
    goal = r["per_round"][100] < 10_000
    lines += [
        "",
        f"Goal < 10,000 gas per round at batch 100: {'met' if goal else 'NOT met'} "
        f"({r['per_round'][100]:,}).",
        "",
        machine_line(),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=8, help="registered nodes (≥ 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write", action="store_true", help="record in RESULTS.md")
    args = parser.parse_args()
    result = asyncio.run(measure(max(2, args.nodes)))
    if args.json:
        print(json.dumps(result))
        return
    text = table(result)
    print(text)
    if args.write:
        write_section("Gas", text)


if __name__ == "__main__":
    main()
