"""Audit speed: how long `swarm audit` takes per 1,000 rounds, next to the time the
rounds themselves took.

One engine (vLLM + SmolLM2, in process) serves a local swarm of `--nodes` nodes
on the embedded py-evm chain; `--rounds` rounds run one after another on node 0
(the default round settings: verification on, batches of 8 rounds committed and
settled on chain as they fill). Their wall time is summed. Then node 0's log is
audited as `swarm audit` does it, timed by phase in one run: the entries (hash
chain and every signature), the rounds (each recomputed: draws, candidates
with their LSH signatures, the CrowdBT refit, the verification votes), the
batches (Merkle roots and settlements) and the chain (registrations, roots,
reputation events). The audit's cost grows with the rounds (nothing in it is
quadratic), so the per-1,000 figure is the measured time scaled.

    python benchmarks/audit.py [--rounds 60] [--nodes 4] [--max-tokens 32] [--write]

`--write` replaces the section in benchmarks/RESULTS.md.
"""

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from results import machine_line, write_section

from node.config import load_config
from node.inference import create_backend
from node.local import start_local_swarm
from reputation.audit.batches import audit_batches
from reputation.audit.entries import check_entries
from reputation.audit.onchain import check_chain, read_chain
from reputation.audit.replay import replay
from reputation.log import ConsensusLog

TOPICS = ["rivers", "bread", "the moon", "chess", "volcanoes", "bees", "trains", "tea"]
ASKS = ["Say one fact about {}.", "Name a word linked to {}.", "Why do people like {}?"]


async def run(rounds: int, nodes: int, max_tokens: int) -> dict[str, Any]:
    config = load_config(
        None,
        overrides={
            "sampling": {"max_tokens": max_tokens},
            "chain": {"batch_rounds": 8, "batch_seconds": 3600},
        },
    )
    backend = await create_backend(config.inference)
    try:
        with tempfile.TemporaryDirectory() as home:
            swarm = await start_local_swarm(nodes, 0, Path(home), config, backend)
            try:
                spent = 0.0
                url = swarm.nodes[0].url + "/v1/chat/completions"
                async with aiohttp.ClientSession() as session:
                    for i in range(rounds):
                        topic = TOPICS[i % len(TOPICS)]
                        prompt = ASKS[(i // len(TOPICS)) % len(ASKS)].format(topic) + f" ({i})"
                        body = {"model": "swarm", "messages": [{"role": "user", "content": prompt}]}
                        began = time.perf_counter()
                        async with session.post(url, json=body) as r:
                            assert r.status == 200, await r.text()
                            await r.json()
                        spent += time.perf_counter() - began
                        print(
                            f"round {i + 1}/{rounds}: {time.perf_counter() - began:.2f} s",
                            flush=True,
                        )
                link = swarm.nodes[0].ctx.chain
                await link.batcher.tick(force=True)
                await link.outbox.drain()
                await link.batcher.tick()
                await link.outbox.drain()
                owner = str(swarm.nodes[0].ctx.address)
                log = ConsensusLog(swarm.nodes[0].ctx.config.log_path, readonly=True)
                try:
                    times: dict[str, float] = {}
                    t = time.perf_counter()
                    checked, findings = check_entries(list(log.entries()))
                    times["entries"] = time.perf_counter() - t
                    t = time.perf_counter()
                    audited, between = replay(checked, owner, log)
                    times["rounds"] = time.perf_counter() - t
                    t = time.perf_counter()
                    results = {
                        c.digest: c
                        for c in checked
                        if c.entry.type == "result" and c.entry.sender == owner
                    }
                    batches, more = audit_batches(
                        log, owner, results, {r.round_id for r in audited}
                    )
                    more += between
                    times["batches"] = time.perf_counter() - t
                    t = time.perf_counter()
                    facts = await read_chain(link.chain, owner, [b.batch.batch for b in batches])
                    more += check_chain(facts, checked, batches, owner)
                    times["chain"] = time.perf_counter() - t
                finally:
                    log.close()
                findings += more + [f for r in audited for f in r.findings]
                recovery = _recovery([c.message for c in checked[:100]])
                return {
                    "recovery": recovery,
                    "rounds": len(audited),
                    "messages": len(checked),
                    "batches": len(batches),
                    "round_seconds": spent,
                    "times": times,
                    "findings": len(findings),
                    "dtype": backend.dtype,
                }
            finally:
                await swarm.stop()
    finally:
        await backend.close()


def _recovery(messages: list[dict[str, Any]]) -> dict[str, float]:
    """Milliseconds per signer recovery of `messages` with each eth-keys backend, side
    by side: the pure-Python one and coincurve's (the one installed and used)."""
    from eth_account.messages import _hash_eip191_message, encode_defunct
    from eth_keys import keys
    from eth_keys.backends import CoinCurveECCBackend, NativeECCBackend

    from reputation.envelope import canonical

    hashes = [
        _hash_eip191_message(
            encode_defunct(primitive=canonical({k: v for k, v in m.items() if k != "signature"}))
        )
        for m in messages
    ]
    signatures = []
    for m in messages:
        raw = bytes.fromhex(m["signature"][2:])
        signatures.append(
            keys.Signature(raw[:64] + bytes([raw[64] - 27 if raw[64] >= 27 else raw[64]]))
        )
    out = {}
    for name, backend in (
        ("pure Python", NativeECCBackend()),
        ("coincurve", CoinCurveECCBackend()),
    ):
        began = time.perf_counter()
        for h, signature in zip(hashes, signatures, strict=True):
            backend.ecdsa_recover(h, signature)
        out[name] = 1000 * (time.perf_counter() - began) / len(hashes)
    return out


def table(r: dict[str, Any], nodes: int, max_tokens: int) -> str:
    total = sum(r["times"].values())
    per = 1000 / r["rounds"]
    lines = [
        f"{r['rounds']} real rounds ({nodes} nodes, SmolLM2-135M, max_tokens {max_tokens}, "
        f"verification on), {r['messages']} log entries, {r['batches']} batches on the "
        f"embedded chain; the audit found {r['findings']} discrepancies.",
        "",
        "| phase | seconds | per 1,000 rounds (s) |",
        "|---|---|---|",
    ]
    for phase, seconds in r["times"].items():
        lines.append(f"| {phase} | {seconds:.3f} | {seconds * per:.1f} |")
    lines += [
        f"| **audit, all** | **{total:.3f}** | **{total * per:.1f}** |",
        f"| the rounds themselves | {r['round_seconds']:.1f} | {r['round_seconds'] * per:.0f} |",
        "",
        f"Audit time / round time: **{total / r['round_seconds']:.4f}** "
        f"({r['round_seconds'] / total:.0f}× faster than the rounds took).",
        "",
        "Checking an entry is mostly recovering its signer. Per message, the same "
        f"{len(r['recovery'])} backends side by side: "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in r["recovery"].items())
        + " (eth-keys uses coincurve when it is installed; it is a dependency).",
        "",
        machine_line(r["dtype"]),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--write", action="store_true", help="Update benchmarks/RESULTS.md.")
    args = parser.parse_args()
    result = asyncio.run(run(args.rounds, args.nodes, args.max_tokens))
    text = table(result, args.nodes, args.max_tokens)
    print(text)
    if args.write:
        write_section("Audit", "Measured by `benchmarks/audit.py`.\n\n" + text)


if __name__ == "__main__":
    main()
