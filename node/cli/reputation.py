"""`swarm reputation`: every registered node's standing, from the chain and the log.

For each member of the registry the config's chain names: its stake, whether it
is active (staked at least the minimum), how it was admitted to rounds (`attested`
by three calibrating members, a `genesis` seat, or `none`: never, or its model
changed since) and whether it is capable now (admitted and not idle past the
inactivity limit), its reputation on chain
(points above the initial reputation: the running sum of every settled change)
and decayed (each change weighed by 2^(−age / half-life) from its block's time:
`reputation.history`, as a node's draws read it), its weight in draws, and, from
this node's own log, its judging record per topic (agreement rate with
the consensus, shrunk toward its overall rate). `--history` lists every reputation change
with its time, block, batch and committer; `--plot FILE.png` draws each node's
points over time.
"""

import asyncio
import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from node.cli.options import console, domain_errors, json_option

__all__ = ["reputation"]

WEI = 10**18


async def _standing(config_path: Path, history: bool) -> dict[str, Any]:
    import time

    from contracts.client import Chain
    from node.config import load_config
    from node.errors import ConfigError
    from node.journal import Journal
    from reputation.epoch import default_epoch, rebuild
    from reputation.history import ReputationHistory
    from reputation.rules import draw_weight

    config = load_config(config_path)
    if not config.chain.enabled or not config.chain.rpc_url:
        raise ConfigError("this needs [chain] rpc_url and contract in the config")
    chain = await Chain.at(config.chain.rpc_url, config.chain.contract)
    changes = ReputationHistory()
    try:
        minimum = await chain.min_stake()
        limit = await chain.inactivity_limit()
        initial = await chain.initial_reputation()
        members = await chain.members()
        await changes.update(chain)
    finally:
        await chain.close()
    topics: dict[str, dict[str, Any]] = defaultdict(dict)
    if Path(config.log_path).exists():
        journal = await Journal.open(config.log_path)
        try:
            _, book = await journal.read(
                lambda log: rebuild(log, log.owner() or "", default_epoch())
            )
        finally:
            await journal.close()
        for topic in book.topics():
            for node, r in book.records(topic).items():
                rate = (r.agreed + 1) / (r.agreed + r.disagreed + 2)
                topics[node.lower()][topic] = round(rate, 3)
    now = time.time()
    rows = []
    for m in members:
        decay = changes.decayed(m.node, now)
        rows.append(
            {
                "node": m.node,
                "endpoint": m.endpoint,
                "model": m.model,
                "stake_ether": m.stake / WEI,
                "active": m.active(minimum),
                "admission": _admission(m),
                "capable": m.capable(minimum, limit, now),
                "reputation": (m.reputation - initial) / WEI,
                "decayed": round(decay, 6),
                "weight": round(draw_weight(m.stake, decay), 6),
                "topics": topics.get(m.node.lower(), {}),
            }
        )
    out: dict[str, Any] = {"contract": config.chain.contract, "nodes": rows}
    if history:
        out["history"] = [asdict(c) for c in changes.changes]
    return out


def _admission(member: Any) -> str:
    from contracts.client import EMPTY

    if member.capable_since == 0:
        return "none"
    return "genesis" if member.attestation == EMPTY else "attested"


def _plot(events: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = min((e["time"] for e in events), default=0)
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e["block"], e["node"])):
        series[e["node"]].append(((e["time"] - start) / 3600, e["reputation"]))
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for node, points in sorted(series.items()):
        axes.step([t for t, _ in points], [r for _, r in points], where="post", label=node[:10])
    axes.set_xlabel("hours since the first change")
    axes.set_ylabel("reputation on chain (points above the initial)")
    axes.set_title("Reputation over time")
    if series:
        axes.legend(fontsize="small")
    try:
        figure.savefig(path, dpi=100)
    except OSError as exc:
        from node.errors import BadRequest

        raise BadRequest(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        plt.close(figure)


@click.command("reputation")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The node's config (its [chain] and its log).",
)
@click.option("--history", is_flag=True, help="Also list every reputation change on chain.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw every node's reputation over time into this PNG file.",
)
@json_option
@domain_errors
def reputation(config_path: Path, history: bool, plot: Path | None, as_json: bool) -> None:
    """Every registered node's stake, attestation and reputation (overall, decayed, per
    topic), from the chain and this node's log."""
    with console.status("reading the chain"):
        standing = asyncio.run(_standing(config_path, history or plot is not None))
    if plot is not None:
        _plot(standing["history"], plot)
        if not history:
            del standing["history"]
    if as_json:
        click.echo(json.dumps(standing, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"Registry of {standing['contract']}")
    table.add_column("node", overflow="fold")
    for column in ("stake", "active", "admission", "capable", "reputation", "decayed", "weight"):
        table.add_column(column, justify="right")
    table.add_column("judging per topic")
    for r in standing["nodes"]:
        per_topic = ", ".join(f"{t} {v:.2f}" for t, v in r["topics"].items()) or "—"
        table.add_row(
            r["node"],
            f"{r['stake_ether']:g}",
            "yes" if r["active"] else "no",
            r["admission"],
            "yes" if r["capable"] else "no",
            f"{r['reputation']:+.3f}",
            f"{r['decayed']:+.3f}",
            f"{r['weight']:.3f}",
            per_topic,
        )
    console.print(table)
    for e in standing.get("history", []):
        click.echo(
            f"block {e['block']} batch {e['batch']} of {e['committer']}: {e['node']} "
            f"{e['points']:+.6f} → {e['reputation']:+.6f}"
        )
    if plot is not None:
        click.echo(f"plot: {plot}")
