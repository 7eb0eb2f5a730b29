"""Options and error handling shared by the `swarm` subcommands."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console

from ranking.errors import SwarmError

__all__ = ["F", "console", "domain_errors", "inference_options", "json_option"]

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SwarmError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


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
