"""The `swarm` command: thin wrappers over the library; domain errors → ClickException."""

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from node.cli_eval import evaluate
from node.cli_options import F, console, domain_errors, inference_options, json_option
from node.cli_verify import verify

__all__ = ["main"]


def log_level_option(func: F) -> F:
    return click.option(
        "--log-level",
        default="INFO",
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
        help="Logging verbosity of the node.",
    )(func)


def _serve(inference: Any, start: Callable[[Any], Awaitable[Any]]) -> None:
    """Create the backend, `start(backend)` (returns something with `stop()`), and serve
    until SIGINT/SIGTERM; then stop it and close the backend."""
    from node.inference import create_backend

    async def ready() -> Any:
        with console.status(f"starting the {inference.backend} backend ({inference.model})…"):
            backend = await create_backend(inference)
        try:
            return await start(backend), backend
        except BaseException:
            await backend.close()
            raise

    async def stop(running: Any) -> None:
        served, backend = running
        await served.stop()
        await backend.close()

    asyncio.run(_until_stopped(ready, stop))


def _logging(level: str) -> None:
    # vLLM configures its own logger (to stdout) at import; keep it to warnings unless debugging.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "DEBUG" if level == "DEBUG" else "WARNING")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("vllm", "transformers", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


async def _until_stopped(
    ready: Callable[[], Awaitable[Any]], stop: Callable[[Any], Awaitable[None]]
) -> None:
    """Run `ready()`, then wait for SIGINT/SIGTERM, then `stop(result)`."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    running = await ready()
    try:
        await done.wait()
    finally:
        console.print("stopping…")
        await stop(running)


@click.group()
@click.version_option("0.1.0", prog_name="swarm")
def main() -> None:
    """A node of a swarm-inference network with verified consensus."""


@main.command()
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
    """Run a local swarm of N nodes on loopback sharing one engine."""
    from node.config import InferenceConfig, NodeConfig, SamplingConfig
    from node.local import start_local_swarm
    from node.models import KNOWN_MODELS, cache_dir

    _logging(log_level)
    if pull and backend == "vllm" and model in KNOWN_MODELS:
        _pull(model)
    base = NodeConfig(
        inference=InferenceConfig(backend=backend, model=model, base_url=base_url),
        sampling=SamplingConfig(max_tokens=max_tokens),
    )
    home = data_dir or cache_dir() / "local-swarm"

    async def start(engine: Any) -> Any:
        swarm = await start_local_swarm(nodes, port, home, base, engine)
        table = Table(title=f"local swarm: {nodes} node(s), model {engine.model_id}")
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
        click.echo(f"endpoint: {swarm.endpoint}  (model 'swarm')")
        sys.stdout.flush()
        return swarm

    _serve(base.inference, start)


@main.group()
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

    password = os.environ.get("SWARM_KEY_PASSWORD") or click.prompt(
        "keystore password", hide_input=True, confirmation_prompt=True
    )
    account = create_keystore(directory / "key.json", password)
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
    from node.app import start_node
    from node.config import load_config
    from node.identity import load_keystore

    _logging(log_level)
    config = load_config(config_path, overrides={"server": {"port": port}} if port else None)
    password = os.environ.get(config.identity.password_env, "")
    account = load_keystore(config.identity.keystore, password)

    async def start(backend: Any) -> Any:
        running = await start_node(config, account, backend)
        click.echo(f"node {account.address} listening on {running.url}")
        sys.stdout.flush()
        return running

    _serve(config.inference, start)


@main.group()
def keys() -> None:
    """Node identities (encrypted Ethereum keystores)."""


@keys.command("new")
@click.argument("path", type=click.Path(path_type=Path))
@domain_errors
def keys_new(path: Path) -> None:
    """Create a keystore at PATH (password from $SWARM_KEY_PASSWORD or a prompt)."""
    from node.identity import create_keystore

    password = os.environ.get("SWARM_KEY_PASSWORD") or click.prompt(
        "keystore password", hide_input=True, confirmation_prompt=True
    )
    click.echo(create_keystore(path, password).address)


@main.group()
def models() -> None:
    """The model store."""


def _pull(name: str) -> Path:
    from node.models import pull

    with console.status(f"pulling {name}…") as status:
        path, worked = pull(name, step=lambda text: status.update(f"{name}: {text}…"))
    console.print(f"{name}: {'pulled to' if worked else 'already present at'} {path}")
    return path


@models.command("pull")
@click.argument("name")
@domain_errors
def models_pull(name: str) -> None:
    """Fetch and convert model NAME into the store (idempotent)."""
    _pull(name)


@models.command("list")
@json_option
def models_list(as_json: bool) -> None:
    """Known models and whether each is pulled."""
    from node.models import KNOWN_MODELS, ModelStoreError, resolve_model

    rows: list[dict[str, str | None]] = []
    for name, spec in KNOWN_MODELS.items():
        try:
            path: str | None = str(resolve_model(name))
        except ModelStoreError:
            path = None
        rows.append({"name": name, "path": path, "license": spec.license})
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['path'] or '(not pulled)'}\t{row['license']}")


@main.command()
@click.argument("prompt")
@click.option(
    "--url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL of any node of the swarm.",
)
@click.option(
    "--model",
    default="swarm",
    show_default=True,
    help="'swarm' for consensus, or a node's own model id.",
)
@click.option(
    "--max-tokens", type=click.IntRange(1, 8192), default=None, help="Longest answer wanted."
)
@click.option("--stream", is_flag=True, help="Stream progress and the answer.")
@json_option
@domain_errors
def query(
    prompt: str, url: str, model: str, max_tokens: int | None, stream: bool, as_json: bool
) -> None:
    """Ask the swarm PROMPT and print the answer (and how it was chosen)."""
    from node.client import ask

    body: dict[str, Any] = {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    }
    if max_tokens:
        body["max_tokens"] = max_tokens
    result = asyncio.run(
        ask(
            url,
            body,
            on_progress=lambda t: console.print(f"[dim]{t}[/dim]"),
            on_text=lambda t: click.echo(t, nl=False) if not as_json else None,
        )
    )
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    if not stream:
        click.echo(result["choices"][0]["message"]["content"], nl=False)
    click.echo()
    swarm = result.get("swarm")
    if swarm:
        table = Table(title=f"round {swarm['round_id']}")
        for column in ("candidate", "node", "score", "±", "digest"):
            table.add_column(column)
        for c in swarm["candidates"]:
            mark = " ★" if c["candidate"] == swarm["winner"]["candidate"] else ""
            table.add_row(
                f"{c['candidate']}{mark}",
                c["node"],
                f"{c['score']:+.3f}",
                f"{c['stderr']:.3f}",
                c["digest"][:18],
            )
        console.print(table)


@main.group("log")
def log_group() -> None:
    """The consensus log."""


@log_group.command("verify")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="A node's consensus log file.",
)
@domain_errors
def log_verify(db_path: Path) -> None:
    """Check the hash chain and every signature in a consensus log."""
    from reputation.log import ConsensusLog, verify_log

    log = ConsensusLog(db_path)
    try:
        count = verify_log(log)
    finally:
        log.close()
    click.echo(f"{count} messages: hash chain and signatures verify")


main.add_command(evaluate)
main.add_command(verify)

if __name__ == "__main__":
    main()
