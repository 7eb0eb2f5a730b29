"""How much a round's consensus-log work costs the event loop: commits and blocking time.

A local swarm of N nodes (one vLLM engine, SmolLM2, in process) runs rounds over
loopback HTTP. Every `ConsensusLog` call made on the event loop's thread is timed
(calls made from another thread, such as a log writer thread, do not block the
loop and are not counted), and every SQLite COMMIT on every node's log file is
counted with a trace callback. Before the measured rounds, the coordinator's log
gets `--history` copies of a real round result, as a node that has been running
a while has (a node that re-reads past results at every round pays for them).

    python benchmarks/log_blocking.py [--nodes 5] [--rounds 5] [--history 200] [--write]

Works on any version of the node that has `node.local.start_local_swarm` and
`reputation.log.ConsensusLog`, so the same script measures before and after a change.
"""

import argparse
import asyncio
import functools
import inspect
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from results import machine_line, write_section
from round_latency import PROMPTS

from node.config import InferenceConfig, NodeConfig, SamplingConfig
from node.inference import create_backend
from node.local import start_local_swarm
from reputation.log import ConsensusLog


class Meter:
    """Loop-thread time inside ConsensusLog calls, and COMMITs per log file."""

    def __init__(self) -> None:
        self.loop_thread = threading.main_thread()
        self.blocked = 0.0
        self.longest = 0.0
        self.calls = 0
        self.commits: dict[str, int] = defaultdict(int)

    def install(self) -> None:
        meter = self
        original_init = ConsensusLog.__init__

        @functools.wraps(original_init)
        def init(log: Any, *args: Any, **kwargs: Any) -> None:
            original_init(log, *args, **kwargs)
            name = str(log.path)

            def trace(statement: str) -> None:
                if statement.strip().upper().startswith(("COMMIT", "END")):
                    meter.commits[name] += 1

            log.db.conn.set_trace_callback(trace)

        ConsensusLog.__init__ = init  # type: ignore[method-assign]
        for name, member in list(vars(ConsensusLog).items()):
            if name.startswith("__") or not inspect.isfunction(member):
                continue  # methods only (a staticmethod does no I/O)
            setattr(ConsensusLog, name, self._timed(member))

    def _timed(self, func: Any) -> Any:
        meter = self

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not meter.loop_thread:
                return func(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                out = func(*args, **kwargs)
                if hasattr(out, "__next__"):  # a generator: consume it here, timed
                    out = iter(list(out))
                return out
            finally:
                spent = time.perf_counter() - t0
                meter.blocked += spent
                meter.longest = max(meter.longest, spent)
                meter.calls += 1

        return wrapper

    def snapshot(self) -> tuple[float, float, int, dict[str, int]]:
        return self.blocked, self.longest, self.calls, dict(self.commits)


async def _round(session: aiohttp.ClientSession, url: str, prompt: str, max_tokens: int) -> dict:
    body = {
        "model": "swarm",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": prompt}],
    }
    async with session.post(url + "/v1/chat/completions", json=body) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(data)
    return dict(data)


def _copy_history(db: Path, copies: int) -> None:
    """Duplicate the log's latest round result `copies` times under fresh round ids."""
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT coordinator, created, status, winner, result FROM rounds "
            "WHERE status = 'ok' ORDER BY created DESC LIMIT 1"
        ).fetchone()
        conn.executemany(
            "INSERT INTO rounds (round_id, coordinator, created, status, winner, result) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(f"0xhistory{i:06d}", row[0], row[1] - 1 - i, *row[2:]) for i in range(copies)],
        )


async def run(nodes: int, rounds: int, history: int, max_tokens: int) -> dict[str, Any]:
    meter = Meter()
    meter.install()
    base = NodeConfig(inference=InferenceConfig(), sampling=SamplingConfig(max_tokens=max_tokens))
    backend = await create_backend(base.inference)
    try:
        with tempfile.TemporaryDirectory() as home:
            swarm = await start_local_swarm(nodes, 0, Path(home), base, backend)
            url = swarm.nodes[0].url
            coordinator_db = str(Path(home) / "node-0" / "consensus.db")
            async with aiohttp.ClientSession() as session:
                await _round(session, url, "Hi", 8)  # warm-up, and the result to copy
                await asyncio.sleep(0.5)
                _copy_history(Path(coordinator_db), history)
                per_round = []
                for i in range(rounds):
                    before = meter.snapshot()
                    await _round(session, url, PROMPTS[i % len(PROMPTS)], max_tokens)
                    await asyncio.sleep(0.5)  # let any writer thread finish its commits
                    after = meter.snapshot()
                    commits = {k: v - before[3].get(k, 0) for k, v in after[3].items()}
                    per_round.append(
                        {
                            "blocked_ms": 1000 * (after[0] - before[0]),
                            "calls": after[2] - before[2],
                            "commits_all": sum(commits.values()),
                            "commits_coordinator": commits.get(coordinator_db, 0),
                        }
                    )
            await swarm.stop()
    finally:
        await backend.close()
    med = statistics.median
    return {
        "nodes": nodes,
        "rounds": rounds,
        "history": history,
        "commits_coordinator": med(r["commits_coordinator"] for r in per_round),
        "commits_all": med(r["commits_all"] for r in per_round),
        "calls": med(r["calls"] for r in per_round),
        "blocked_ms": med(r["blocked_ms"] for r in per_round),
        "longest_ms": 1000 * meter.longest,
    }


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| code | commits, coordinator's log | commits, all logs | log calls on the loop | "
        "loop blocked by the log (ms) | longest single block (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {r['commits_coordinator']:.0f} | {r['commits_all']:.0f} | "
            f"{r['calls']:.0f} | {r['blocked_ms']:.1f} | {r['longest_ms']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--json", action="store_true", help="print the row as JSON")
    parser.add_argument(
        "--before", type=Path, help="a JSON row of an earlier run to show next to this one"
    )
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    row = asyncio.run(run(args.nodes, args.rounds, args.history, args.max_tokens))
    if args.json:
        print(json.dumps({"label": args.label, **row}))
        return
    rows = []
    if args.before:
        earlier = json.loads(args.before.read_text())
        rows.append((earlier.pop("label"), earlier))
    rows.append((args.label, row))
    out = table(rows) + (
        f"\n\n{args.nodes} nodes in one process, one shared engine; medians over "
        f"{args.rounds} rounds (max_tokens {args.max_tokens}) after {args.history} past "
        "results in the coordinator's log. Commits are counted on every node's log file; "
        "loop time is time spent inside ConsensusLog calls on the event loop's thread."
    )
    print(out)
    if args.write:
        write_section(
            "Consensus log on the event loop",
            "Command: `python benchmarks/log_blocking.py --before before.json --write`\n\n"
            + machine_line()
            + "\n\n"
            + out,
        )


if __name__ == "__main__":
    main()
