"""`swarm log`: the consensus log."""

from pathlib import Path

import click

from node.cli.options import db_option, domain_errors

__all__ = ["log_group"]


@click.group("log")
def log_group() -> None:
    """The consensus log."""


@log_group.command("verify")
@db_option("A node's consensus log file.")
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
