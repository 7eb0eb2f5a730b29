"""The `swarm` command: thin wrappers over the library, one module per command group.

Each module parses options, calls the library and prints; domain errors become a
one-line message and exit status 1 (`node.cli.options.domain_errors`). Options
that several commands share (`--db`, `--json`, the inference options, the key
password) are defined once in `node.cli.options`.
"""

import click

from node.cli.audit import audit
from node.cli.calibrate import calibrate
from node.cli.chain import chain, stake, unstake
from node.cli.eval import evaluate
from node.cli.keys import keys
from node.cli.log import log_group
from node.cli.models import models
from node.cli.query import query
from node.cli.reputation import reputation
from node.cli.run import node, up
from node.cli.verify import verify

__all__ = ["main"]


@click.group()
@click.version_option("0.1.0", prog_name="swarm")
def main() -> None:
    """A node of a swarm-inference network with verified consensus."""


for command in (
    up,
    node,
    keys,
    models,
    query,
    log_group,
    evaluate,
    verify,
    chain,
    stake,
    unstake,
    reputation,
    calibrate,
    audit,
):
    main.add_command(command)
