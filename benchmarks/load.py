"""Load: concurrent clients against `swarm up --nodes 3` (real engine), admission control.

Starts `swarm up --nodes 3` (vLLM + SmolLM2 in that process) and, for each level of
concurrency, runs that many clients for a fixed window; each client sends swarm
rounds back to back (a new prompt each time) to node 0. Per level it reports the
completed rounds per second, the latency percentiles of admitted requests, the
share of 429s and how fast they came, other failures, and the node process's peak
resident memory (sampled every 0.25 s from /proc; the engine's own worker
processes, if any, are not counted).

The goal (issue 18): past saturation the node answers 429 within 50 ms instead of
queueing, admitted requests keep their latency, memory stays flat. All traffic goes
to 127.0.0.1; every loop is bounded in time.

    python benchmarks/load.py [--levels 1 8 32 128 512] [--seconds 30]
        [--max-tokens 16] [--write]

`--write` replaces the "Load" section of benchmarks/RESULTS.md.
"""

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np
from results import machine_line, write_section
from swarm_process import swarm_up

LEVELS = [1, 8, 32, 128, 512]
TOPICS = ["rivers", "bread", "magnets", "tides", "volcanoes", "bees", "glass", "clouds"]


@dataclass
class Level:
    clients: int
    seconds: float
    ok: list[float] = field(default_factory=list)
    limited: list[float] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    retry_after: set[str] = field(default_factory=set)
    peak_rss_mb: float = 0.0

    def fail(self, what: str) -> None:
        self.failed[what] = self.failed.get(what, 0) + 1

    @property
    def sent(self) -> int:
        return len(self.ok) + len(self.limited) + sum(self.failed.values())


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, 100 * q, method="higher")) if values else float("nan")


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _client(
    http: aiohttp.ClientSession, url: str, level: Level, deadline: float, n: int, timeout: float
) -> None:
    i = 0
    while time.monotonic() < deadline:
        i += 1
        prompt = f"In one sentence, what is interesting about {TOPICS[(n + i) % len(TOPICS)]}?"
        body = {"model": "swarm", "messages": [{"role": "user", "content": prompt}]}
        t0 = time.perf_counter()
        try:
            async with http.post(
                url + "/v1/chat/completions",
                json=body,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                await resp.read()
                took = time.perf_counter() - t0
                if resp.status == 200:
                    level.ok.append(took)
                elif resp.status == 429:
                    level.limited.append(took)
                    level.retry_after.add(resp.headers.get("Retry-After", "none"))
                    # a polite client waits as told; a bounded wait keeps the window's load
                    await asyncio.sleep(min(float(resp.headers.get("Retry-After", 1)), 1.0))
                else:
                    level.fail(f"HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            level.fail(type(exc).__name__)
            await asyncio.sleep(0.2)


async def _run_level(url: str, pid: int, clients: int, seconds: float) -> Level:
    level = Level(clients, seconds)
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = [
            asyncio.create_task(_client(http, url, level, deadline, n, timeout=seconds + 120))
            for n in range(clients)
        ]
        while not all(t.done() for t in tasks):
            level.peak_rss_mb = max(level.peak_rss_mb, _rss_mb(pid))
            await asyncio.wait(tasks, timeout=0.25)
    return level


def _table(levels: list[Level]) -> str:
    rows = [
        "| clients | sent | rounds/s | p50 s | p95 s | p99 s | 429 share | 429 p50 ms "
        "| 429 p99 ms | other failures | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in levels:
        failures = ", ".join(f"{k} {v}" for k, v in sorted(lv.failed.items())) or "0"
        rows.append(
            f"| {lv.clients} | {lv.sent} | {len(lv.ok) / lv.seconds:.2f} "
            f"| {_pct(lv.ok, 0.5):.2f} | {_pct(lv.ok, 0.95):.2f} | {_pct(lv.ok, 0.99):.2f} "
            f"| {len(lv.limited) / max(lv.sent, 1):.1%} "
            f"| {1000 * _pct(lv.limited, 0.5):.1f} | {1000 * _pct(lv.limited, 0.99):.1f} "
            f"| {failures} | {lv.peak_rss_mb:.0f} |"
        )
    return "\n".join(rows)


async def main(args: argparse.Namespace) -> None:
    with swarm_up(args.port, args.max_tokens) as swarm:
        print(f"swarm up ready on {swarm.url} (pid {swarm.proc.pid})", flush=True)
        levels = []
        for clients in args.levels:
            level = await _run_level(swarm.url, swarm.proc.pid, clients, args.seconds)
            levels.append(level)
            print(_table([level]).splitlines()[-1], flush=True)
        async with aiohttp.ClientSession() as http, http.get(swarm.url + "/swarm/v1/info") as r:
            admission = (await r.json())["admission"]  # after the levels: where it adapted
    ok_p50 = [_pct(lv.ok, 0.5) for lv in levels if lv.ok]
    body = "\n\n".join(
        [
            "Measured by `benchmarks/load.py` "
            f"(`--levels {' '.join(map(str, args.levels))} --seconds {args.seconds:g} "
            f"--max-tokens {args.max_tokens}`).",
            f"`swarm up --nodes 3` with SmolLM2-135M; clients send swarm rounds back to back "
            f"for {args.seconds:g} s per level to node 0; a client told 429 waits "
            "min(Retry-After, 1 s). Latencies are of admitted (200) requests; "
            "429 times are how fast the refusal came.",
            _table(levels),
            f"Admitted p50 across levels: {', '.join(f'{v:.2f}' for v in ok_p50)} s"
            + (f" (min {min(ok_p50):.2f}, max {max(ok_p50):.2f})." if ok_p50 else "."),
            f"Node 0's limits after the run (`/swarm/v1/info`): "
            f"{admission['rounds']['limit']} rounds and {admission['plain']['limit']} plain "
            "generations in flight (adaptive: they follow the admitted requests' latency, "
            "`node.serve.limits.AdaptiveInFlight`).",
            machine_line(),
        ]
    )
    print(body)
    if args.write:
        write_section("Load", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=LEVELS)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--port", type=int, default=18700)
    parser.add_argument("--write", action="store_true")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main(parser.parse_args()))
