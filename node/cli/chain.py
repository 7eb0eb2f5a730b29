"""`swarm chain up|fund|status`, `swarm stake` and `swarm unstake`: the operator's chain.

`chain up` starts anvil (installing it from npm if missing) on loopback, deploys
the contract and prints the RPC URL and address (and writes them to a deployment
file) for `[chain] rpc_url` and `contract`; it runs until Ctrl-C. The other
commands act for the node whose `--config` they are given, on the chain that
config names (`chain.rpc_url`: the embedded chain lives inside a running
`swarm up` and has no URL). Stake changes go through the node's outbox, like
every chain write, so a running node and the command never lose one another's
writes. Each fails with a one-line message when the chain cannot be reached.
"""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import click

from node.cli.options import console, domain_errors, json_option, setup_logging

__all__ = ["chain", "open_node", "stake", "unstake"]

WEI = 10**18


@click.group()
def chain() -> None:
    """Start a dev chain, fund accounts, and see a node's standing on chain."""


@chain.command("up")
@click.option(
    "--port",
    default=8545,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Loopback port of the RPC.",
)
@click.option(
    "--state",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Load the chain from this file if it exists, and save it there on exit.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("deployment.json"),
    show_default=True,
    help="Where to write the RPC URL, chain id and contract address.",
)
@click.option("--fund", "funded", multiple=True, help="Give this address 100 ether (repeatable).")
@click.option(
    "--genesis-seats",
    default=3,
    show_default=True,
    type=click.IntRange(0, 1024),
    help="How many first registrants enter rounds without calibration (the founders); "
    "every later node is calibrated by three capable members.",
)
@domain_errors
def chain_up(
    port: int, state: Path | None, out: Path, funded: tuple[str, ...], genesis_seats: int
) -> None:
    """Run anvil on loopback with the contract deployed, until Ctrl-C."""
    from contracts.anvil import Anvil, deploy_on, fund
    from contracts.client import Deployment
    from contracts.params import ChainParams

    with console.status("starting anvil…"):
        anvil = Anvil.start(port, state)
    try:
        deployment = Deployment.read(out) if state and state.exists() and out.exists() else None
        if deployment is None or deployment.rpc_url != anvil.rpc_url:
            params = ChainParams(genesis_seats=genesis_seats)
            deployment = asyncio.run(deploy_on(anvil.rpc_url, params))
        for address in funded:
            asyncio.run(fund(anvil.rpc_url, address, 100 * WEI))
        deployment.write(out)
        click.echo(f"rpc_url: {deployment.rpc_url}")
        click.echo(f"contract: {deployment.contract}")
        click.echo(f"chain_id: {deployment.chain_id}  (written to {out})")
        while anvil.process.poll() is None:
            time.sleep(0.5)
        raise click.ClickException(f"anvil exited with status {anvil.process.returncode}")
    except KeyboardInterrupt:
        console.print("stopping anvil…")
    finally:
        anvil.stop()


@chain.command("fund")
@click.argument("address")
@click.option("--rpc-url", required=True, help="A dev chain's RPC URL (anvil).")
@click.option(
    "--ether",
    default=100.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="The balance to set.",
)
@domain_errors
def chain_fund(address: str, rpc_url: str, ether: float) -> None:
    """Give ADDRESS ether on a dev chain."""
    from contracts.anvil import fund

    asyncio.run(fund(rpc_url, address, round(ether * WEI)))
    click.echo(f"{address}: {ether:g} ether")


def _config_option(func: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        required=True,
        type=click.Path(path_type=Path, exists=True, dir_okay=False),
        help="The node's TOML config file (its [chain] and key).",
    )(func)


async def open_node(config_path: Path) -> tuple[Any, Any, Any, Any]:
    """(config, account, chain, journal) of the node the config names."""
    import os

    from contracts.client import Chain
    from node.config import load_config
    from node.errors import ConfigError
    from node.identity import load_keystore
    from node.journal import Journal

    config = load_config(config_path)
    if not config.chain.enabled or not config.chain.rpc_url:
        raise ConfigError(
            "this needs [chain] rpc_url and contract in the config (the embedded chain lives "
            "inside the running swarm and has no RPC URL)"
        )
    account = load_keystore(
        config.identity.keystore, os.environ.get(config.identity.password_env, "")
    )
    chain = await Chain.at(config.chain.rpc_url, config.chain.contract)
    journal = await Journal.open(config.log_path)
    return config, account, chain, journal


async def _status(config_path: Path) -> dict[str, Any]:
    from reputation.chainlog import batches, outbox_backlog

    _, account, chain, journal = await open_node(config_path)
    try:
        member = await chain.member(account.address)
        local = await journal.read(batches)
        backlog = await journal.read(outbox_backlog)
        on_chain = await chain.batches(account.address)
    finally:
        await journal.close()
        await chain.close()
    return {
        "node": account.address,
        "contract": chain.address,
        "chain_id": chain.chain_id,
        "registered": member.registered,
        "endpoint": member.endpoint,
        "model": member.model,
        "stake_ether": member.stake / WEI,
        "unbonding_ether": member.unbonding / WEI,
        "release": member.release,
        "reputation": member.reputation / WEI,
        "batches_committed": on_chain,
        "last_batch": (
            None
            if not local
            else {
                "batch": local[-1].batch,
                "root": local[-1].root,
                "rounds": local[-1].rounds,
                "committed_block": local[-1].committed_block,
                "settled_block": local[-1].settled_block,
            }
        ),
        "outbox": {
            "pending": backlog.get("pending", 0) + backlog.get("sent", 0),
            "done": backlog.get("done", 0),
            "failed": backlog.get("failed", 0),
        },
    }


@chain.command("status")
@_config_option
@json_option
@domain_errors
def chain_status(config_path: Path, as_json: bool) -> None:
    """A node's registration, stake, reputation, last committed batch and outbox backlog."""
    status = asyncio.run(_status(config_path))
    if as_json:
        click.echo(json.dumps(status, indent=1))
        return
    for key, value in status.items():
        click.echo(f"{key}: {value}")


async def _write(config_path: Path, key: str, function: str, args: list[Any], value: int) -> str:
    from node.chain.outbox import Outbox

    config, account, chain, journal = await open_node(config_path)
    try:
        outbox = Outbox(chain, account, journal, config.chain.confirmations)
        await outbox.put(key, function, args, value)
        row = await outbox.wait(key, config.chain.start_timeout)
    finally:
        await journal.close()
        await chain.close()
    if row.status == "failed":
        from contracts.client import ChainRefused

        raise ChainRefused(f"the contract refused {function}: {row.error}")
    return f"{function}: done in block {row.block}"


@click.command()
@click.argument("ether", type=click.FloatRange(min=0, min_open=True))
@_config_option
@domain_errors
def stake(ether: float, config_path: Path) -> None:
    """Add ETHER to the node's bonded stake."""
    setup_logging("WARNING")
    key = f"stake:{time.time():.6f}"
    click.echo(asyncio.run(_write(config_path, key, "stake", [], round(ether * WEI))))


@click.command()
@click.argument("ether", type=click.FloatRange(min=0, min_open=True), required=False)
@click.option("--withdraw", is_flag=True, help="Withdraw what finished unbonding instead.")
@_config_option
@domain_errors
def unstake(ether: float | None, withdraw: bool, config_path: Path) -> None:
    """Start unbonding ETHER of the node's stake (withdraw it after the delay with
    --withdraw). Unbonding stake can still be slashed."""
    setup_logging("WARNING")
    key = f"unstake:{time.time():.6f}"
    if withdraw:
        click.echo(asyncio.run(_write(config_path, key, "withdraw", [], 0)))
    elif ether is None:
        raise click.UsageError("give the ether to unstake, or --withdraw")
    else:
        args = [round(ether * WEI)]
        click.echo(asyncio.run(_write(config_path, key, "request_unstake", args, 0)))
