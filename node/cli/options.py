"""What the `swarm` subcommands share: option decorators defined once, the key
password prompt, domain errors as clean messages, and serving until a signal."""

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from swarm_errors import SwarmError

__all__ = [
    "F",
    "console",
    "db_option",
    "domain_errors",
    "given_flags",
    "inference_options",
    "json_option",
    "key_password",
    "log_level_option",
    "serve_until_stopped",
    "setup_logging",
]

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
PASSWORD_ENV = "SWARM_KEY_PASSWORD"


def domain_errors(func: F) -> F:
    """Turn the project's errors (and OS errors) into a one-line message, exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SwarmError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def db_option(help_text: str) -> Callable[[F], F]:
    """--db FILE: an existing consensus log."""
    return click.option(
        "--db",
        "db_path",
        required=True,
        type=click.Path(path_type=Path, exists=True, dir_okay=False),
        help=help_text,
    )


def log_level_option(func: F) -> F:
    return click.option(
        "--log-level",
        default="INFO",
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
        help="Logging verbosity of the node.",
    )(func)


def inference_options(func: F) -> F:
    """--backend, --model and --base-url: which engine serves a node."""
    func = click.option(
        "--base-url", default="", help="OpenAI-compatible server (openai backend)."
    )(func)
    func = click.option(
        "--model",
        default="smollm2-135m",
        show_default=True,
        help="Model-store name or model directory (vllm backend).",
    )(func)
    return click.option(
        "--backend",
        type=click.Choice(["vllm", "openai"]),
        default="vllm",
        show_default=True,
        help="Inference backend.",
    )(func)


def given_flags(**values: Any) -> dict[str, Any]:
    """The options among `values` that the user gave on the command line (not defaults),
    so that they override the environment and the environment overrides the defaults."""
    source = click.get_current_context().get_parameter_source
    return {k: v for k, v in values.items() if source(k) != click.core.ParameterSource.DEFAULT}


def key_password(confirm: bool) -> str:
    """The keystore password: $SWARM_KEY_PASSWORD, or asked for on the terminal."""
    return os.environ.get(PASSWORD_ENV) or click.prompt(
        "keystore password", hide_input=True, confirmation_prompt=confirm
    )


def setup_logging(level: str) -> None:
    # vLLM configures its own logger (to stdout) at import; keep it to warnings unless debugging.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "DEBUG" if level == "DEBUG" else "WARNING")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("vllm", "transformers", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def serve_until_stopped(inference: Any, start: Callable[[Any], Awaitable[Any]]) -> None:
    """Create the backend, `start(backend)` (returns something with `stop()`), and serve
    until SIGINT/SIGTERM; then stop it and close the backend."""
    from node.inference import create_backend

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        with console.status(f"starting the {inference.backend} backend ({inference.model})…"):
            backend = await create_backend(inference)
        try:
            served = await start(backend)
            try:
                await done.wait()
            finally:
                console.print("stopping…")
                await served.stop()
        finally:
            await backend.close()

    asyncio.run(main())
