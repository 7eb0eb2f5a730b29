"""`swarm calibrate`: have this node's model tested and admitted to rounds.

It does what `swarm node run` does at start, without serving: registers the key
if it is not a member (with the config's stake), then, unless the contract
already counts the node as capable, asks three capable members serving the same
model to calibrate it (`node.chain.capability`), showing each session's progress,
and submits their attestations. It prints every attester's verdict. Run it while
the node is stopped: it signs chain writes with the node's key.
"""

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from node.cli.options import console, domain_errors, json_option, log_level_option, setup_logging

__all__ = ["calibrate"]


async def _calibrate(config_path: Path) -> dict[str, Any]:
    from rich.progress import Progress

    from node.chain.capability import ensure_capable
    from node.chain.membership import join
    from node.chain.outbox import Outbox
    from node.cli.chain import open_node
    from node.inference import create_backend

    config, account, chain, journal = await open_node(config_path)
    settings = config.chain
    try:
        with console.status(f"starting the {config.inference.backend} backend"):
            backend = await create_backend(config.inference)
    except BaseException:
        await journal.close()
        await chain.close()
        raise
    outbox = Outbox(chain, account, journal, settings.confirmations, settings.retry_seconds)
    drain = asyncio.create_task(outbox.run())
    server = config.server
    url = server.public_url or f"http://{server.host}:{server.port}"
    try:
        await join(chain, outbox, account, url, backend.model_id, settings.stake_wei, 120)
        with Progress(console=console, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def progress(attester: Any, what: str, done: int, total: int) -> None:
                if attester.node not in tasks:
                    tasks[attester.node] = bar.add_task(attester.node[:10], total=total)
                bar.update(
                    tasks[attester.node], completed=done, description=f"{attester.node[:10]} {what}"
                )

            admission = await ensure_capable(chain, outbox, account, backend, 120, progress)
    finally:
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
        await journal.close()
        await chain.close()
        await backend.close()
    return {
        "node": account.address,
        "model": backend.model_id,
        "already_capable": admission.already,
        "attestations": [
            {"attester": who.node, **a.model_dump(exclude={"signature", "node", "model"})}
            for who, a in admission.attestations
        ],
    }


@click.command("calibrate")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The node's config (its key, model and [chain]).",
)
@json_option
@log_level_option
@domain_errors
def calibrate(config_path: Path, as_json: bool, log_level: str) -> None:
    """Register if need be, get calibrated by three capable members serving the same
    model, and submit their attestations on chain; prints each attester's verdict."""
    setup_logging(log_level)
    result = asyncio.run(_calibrate(config_path))
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    if result["already_capable"]:
        click.echo(f"{result['node']} is already capable on chain: nothing to do")
        return
    from rich.table import Table

    table = Table(title=f"Calibration of {result['node']} ({result['model']})")
    for column in ("attester", "passed", "score", "judging", "answering", "failed checks"):
        table.add_column(column)
    for a in result["attestations"]:
        table.add_row(
            a["attester"],
            "yes" if a["passed"] else "no",
            f"{a['score'] / 100:.1f}%",
            f"{a['judging'][0]}/{a['judging'][1]}",
            f"{a['answering'][0]}/{a['answering'][1]}",
            str(a["check_failures"]),
        )
    console.print(table)
    click.echo("admitted to rounds: the attestations are on chain")
