"""`swarm verify`: re-check a logged answer from the command line.

Reads the round's signed announcement and answers from a consensus log, starts
a backend (the same options as `swarm up`) and runs the verification methods
on the answer: by default the winner's (from the round's result in a
coordinator's log), or the one `--node` wrote. Prints one row per method;
exits 0 when every check passed and 1 otherwise (errors also exit 1, with a
message).
"""

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from node.cli_options import console, domain_errors, inference_options, json_option
from node.errors import BadRequest, NotFound
from reputation.log import ConsensusLog

__all__ = ["verify"]

METHODS = ("teacher_forced", "reexecution")


def _answer(log: ConsensusLog, round_id: str, node: str | None) -> dict[str, Any]:
    answers = [json.loads(e.raw) for e in log.entries(round_id) if e.type == "answer"]
    if not answers:
        raise NotFound(f"round {round_id}: no answers in this log", code="unknown_round")
    if node is None:
        found = log.round(round_id)
        winner = ((found or {}).get("result") or {}).get("swarm", {}).get("winner", {})
        node = winner.get("node")
        if node is None:
            if len(answers) > 1:
                raise BadRequest(f"round {round_id} has no result in this log; pass --node")
            node = answers[0]["sender"]
    for answer in answers:
        if str(answer["sender"]).lower() == str(node).lower():
            return dict(answer)
    raise NotFound(f"round {round_id}: no answer by {node} in this log")


async def _check(
    inference: Any, answer: dict[str, Any], announce: dict[str, Any], methods: list[str]
) -> tuple[str, list[Any]]:
    from node.claims import claim_of
    from node.inference import create_backend
    from node.verifying import check_claim, require_model

    claim = claim_of(answer, announce)
    with console.status(f"starting the {inference.backend} backend ({inference.model})…"):
        backend = await create_backend(inference)
    try:
        require_model(claim.model, backend)
        return claim.key, await check_claim(backend, claim, methods)
    finally:
        await backend.close()


@click.command("verify")
@click.argument("round_id")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The consensus log holding the round.",
)
@click.option("--node", default=None, help="Check this node's answer (default: the winner's).")
@click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(METHODS),
    help="A method to run (repeatable; default: both).",
)
@inference_options
@json_option
@domain_errors
def verify(
    round_id: str,
    db_path: Path,
    node: str | None,
    methods: tuple[str, ...],
    backend: str,
    model: str,
    base_url: str,
    as_json: bool,
) -> None:
    """Re-check the answer of ROUND_ID in a consensus log with this machine's model."""
    from node.claims import find_announce
    from node.config import InferenceConfig

    log = ConsensusLog(db_path)
    try:
        announce = find_announce(log, round_id)
        if announce is None:
            raise NotFound(f"unknown round {round_id} in {db_path}", code="unknown_round")
        answer = _answer(log, round_id, node)
    finally:
        log.close()
    inference = InferenceConfig(backend=backend, model=model, base_url=base_url)
    key, results = asyncio.run(_check(inference, answer, announce, list(methods or METHODS)))
    passed = all(r.passed for r in results)
    if as_json:
        out = {
            "round_id": round_id,
            "node": answer["sender"],
            "answer": key,
            "passed": passed,
            "results": [r.as_dict() for r in results],
        }
        click.echo(json.dumps(out, indent=2))
    else:
        table = Table(title=f"round {round_id[:18]}… answer by {answer['sender']}")
        for column in ("method", "passed", "score", "evidence"):
            table.add_column(column)
        for r in results:
            table.add_row(
                r.method,
                "yes" if r.passed else "NO",
                f"{r.score:.3f}",
                json.dumps(r.evidence)[:120],
            )
        console.print(table)
    if not passed:
        raise SystemExit(1)
