"""Options and error handling shared by the `swarm` subcommands."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console

from ranking.errors import SwarmError

__all__ = ["F", "console", "domain_errors", "json_option"]

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
