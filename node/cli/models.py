"""`swarm models`: the model store."""

import json
from pathlib import Path

import click

from node.cli.options import console, domain_errors, json_option

__all__ = ["models", "pull_model"]


@click.group()
def models() -> None:
    """The model store."""


def pull_model(name: str) -> Path:
    """Pull NAME into the store with a progress line (a no-op when present)."""
    from node.inference.store import pull

    with console.status(f"pulling {name}…") as status:
        path, worked = pull(name, step=lambda text: status.update(f"{name}: {text}…"))
    console.print(f"{name}: {'pulled to' if worked else 'already present at'} {path}")
    return path


@models.command("pull")
@click.argument("name")
@domain_errors
def models_pull(name: str) -> None:
    """Fetch and convert model NAME into the store (idempotent)."""
    pull_model(name)


@models.command("list")
@json_option
def models_list(as_json: bool) -> None:
    """Known models and whether each is pulled."""
    from node.errors import ModelStoreError
    from node.inference.store import KNOWN_MODELS, resolve_model

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
