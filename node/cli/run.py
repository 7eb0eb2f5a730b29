"""`swarm up` (a local swarm in one process) and `swarm node init|run` (one node)."""

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from node.cli.options import (
    console,
    domain_errors,
    given_flags,
    inference_options,
    key_password,
    log_level_option,
    serve_until_stopped,
    setup_logging,
)

__all__ = ["node", "up"]


@click.command()
@click.option(
    "--nodes",
    "-n",
    default=3,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Node identities to run in this process.",
)
@click.option(
    "--port",
    "-p",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the first node; node i listens on PORT+i (0: free ports).",
)
@click.option(
    "--max-tokens",
    default=256,
    show_default=True,
    type=click.IntRange(1, 8192),
    help="Longest answer a node generates.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Keys and logs (default: <cache>/local-swarm).",
)
@click.option(
    "--pull/--no-pull",
    default=True,
    show_default=True,
    help="Pull the model first if it is a store name and missing.",
)
@inference_options
@log_level_option
@domain_errors
def up(
    nodes: int,
    port: int,
    model: str,
    backend: str,
    base_url: str,
    max_tokens: int,
    data_dir: Path | None,
    pull: bool,
    log_level: str,
) -> None:
    """Run a local swarm of N nodes on loopback sharing one engine.

    Its chain is anvil with its state in DATA_DIR/chain, started and stopped with the
    swarm: a restart keeps the nodes, stakes, reputation, log and batches (audit it
    after a stop with `swarm audit --db DATA_DIR/node-0/consensus.db --local-chain
    DATA_DIR`). The `endpoint:` line is printed once every node is ready.
    Flags given on the command line win; other settings come from the environment
    (SWARM_<SECTION>__<FIELD>, as for `swarm node run`), then the defaults."""
    from node.cli.models import pull_model
    from node.config import load_config
    from node.inference.store import KNOWN_MODELS, cache_dir
    from node.local import start_local_swarm

    setup_logging(log_level)
    flags = given_flags(backend=backend, model=model, base_url=base_url, max_tokens=max_tokens)
    sampling = {"max_tokens": flags.pop("max_tokens")} if "max_tokens" in flags else {}
    base = load_config(None, overrides={"inference": flags, "sampling": sampling})
    if pull and base.inference.backend == "vllm" and base.inference.model in KNOWN_MODELS:
        pull_model(base.inference.model)
    home = data_dir or cache_dir() / "local-swarm"

    async def start(engine: Any) -> Any:
        swarm = await start_local_swarm(nodes, port, home, base, engine, persist_chain=True)
        table = Table(
            title=f"local swarm: {nodes} node(s), model {engine.model_id} ({engine.dtype})"
        )
        for column in ("node", "url", "temperature", "log"):
            table.add_column(column)
        for node in swarm.nodes:
            table.add_row(
                node.ctx.address,
                node.url,
                str(node.ctx.config.sampling.temperature),
                node.ctx.config.log_path,
            )
        console.print(table)
        if swarm.local_chain is not None:
            local = swarm.local_chain
            click.echo(f"chain: anvil at {local.anvil.rpc_url}; {local.note}")
        click.echo(f"endpoint: {swarm.endpoint}  (model 'swarm')")
        sys.stdout.flush()
        return swarm

    serve_until_stopped(base.inference, start)


@click.group()
def node() -> None:
    """Run or prepare a single node."""


@node.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port the node will listen on.",
)
@click.option(
    "--temperature",
    default=0.7,
    show_default=True,
    type=float,
    help="This node's sampling temperature.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="This node's base seed.")
@inference_options
@domain_errors
def node_init(
    directory: Path,
    port: int,
    backend: str,
    model: str,
    base_url: str,
    temperature: float,
    seed: int,
) -> None:
    """Create DIRECTORY with a new key (password from $SWARM_KEY_PASSWORD) and config.toml."""
    from node.identity import create_keystore

    account = create_keystore(directory / "key.json", key_password(confirm=True))
    lines = [
        "[server]",
        f"port = {port}",
        "",
        "[inference]",
        f'backend = "{backend}"',
        f'model = "{model}"',
        *([f'base_url = "{base_url}"'] if base_url else []),
        "",
        "[sampling]",
        f"temperature = {temperature}",
        f"seed = {seed}",
        "",
        "# Add one [[peers]] table per peer:",
        "# [[peers]]",
        '# address = "0x..."',
        '# url = "http://127.0.0.1:8001"',
        "",
    ]
    (directory / "config.toml").write_text("\n".join(lines))
    click.echo(json.dumps({"node": account.address, "config": str(directory / "config.toml")}))


@node.command("run")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The node's TOML config file.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Override [server] port.")
@log_level_option
@domain_errors
def node_run(config_path: Path, port: int | None, log_level: str) -> None:
    """Run one node as its own process until SIGINT/SIGTERM."""
    import os

    from node.app import start_node
    from node.config import load_config
    from node.identity import load_keystore

    setup_logging(log_level)
    config = load_config(config_path, overrides={"server": {"port": port}} if port else None)
    password = os.environ.get(config.identity.password_env, "")
    account = load_keystore(config.identity.keystore, password)

    async def start(backend: Any) -> Any:
        running = await start_node(config, account, backend)
        click.echo(f"node {account.address} listening on {running.url}")
        sys.stdout.flush()
        return running

    serve_until_stopped(config.inference, start)
