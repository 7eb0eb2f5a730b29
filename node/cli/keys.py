"""`swarm keys`: node identities (encrypted Ethereum keystores)."""

from pathlib import Path

import click

from node.cli.options import domain_errors, key_password

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Node identities (encrypted Ethereum keystores)."""


@keys.command("new")
@click.argument("path", type=click.Path(path_type=Path))
@domain_errors
def keys_new(path: Path) -> None:
    """Create a keystore at PATH (password from $SWARM_KEY_PASSWORD or a prompt)."""
    from node.identity import create_keystore

    click.echo(create_keystore(path, key_password(confirm=True)).address)
