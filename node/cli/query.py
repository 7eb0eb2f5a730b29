"""`swarm query`: ask a node, print the answer and how the swarm chose it."""

import asyncio
import json
from typing import Any

import click
from rich.table import Table

from node.cli.options import console, domain_errors, json_option

__all__ = ["query"]


@click.command()
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
    from reputation.result import SwarmReply

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
    if result.get("swarm"):
        swarm = SwarmReply.model_validate(result["swarm"])
        table = Table(title=f"round {swarm.round_id}")
        for column in ("candidate", "node", "score", "±", "digest"):
            table.add_column(column)
        for c in swarm.candidates:
            mark = " ★" if c.candidate == swarm.winner.candidate else ""
            table.add_row(
                f"{c.candidate}{mark}", c.node, f"{c.score:+.3f}", f"{c.stderr:.3f}", c.digest[:18]
            )
        console.print(table)
