"""`swarm verify`: re-check a logged answer from the command line.

Reads the round's signed announcement and answer from a consensus log
(`reputation.queries`), starts a backend (the same options as `swarm up`) and
runs the verification methods on the answer: by default the winner's (from the
round's result in a coordinator's log), or the one `--node` wrote. An answer
that no honest node of this model could have made (another model, token ids
outside the vocabulary, an unreadable LSH signature) is refused before any
check, as a verifier in a round refuses it. Prints one row per method; exits 0
when every check passed and 1 otherwise (errors also exit 1, with a message).
"""

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from node.cli.options import console, db_option, domain_errors, inference_options, json_option
from reputation.messages import METHODS

__all__ = ["verify"]


async def _check(
    inference: Any, answer: dict[str, Any], announce: dict[str, Any], methods: list[str]
) -> tuple[str, list[Any]]:
    from node.claims import claim_of
    from node.inference import create_backend
    from node.serve.verify import check_claim, refuse_impossible
    from reputation.messages import AnnouncePayload, AnswerPayload, payload_of

    claim = claim_of(answer, announce)
    round_max_tokens = payload_of(AnnouncePayload, announce).max_tokens
    with console.status(f"starting the {inference.backend} backend ({inference.model})…"):
        backend = await create_backend(inference)
    try:
        refuse_impossible(payload_of(AnswerPayload, answer), backend, round_max_tokens)
        return claim.key, await check_claim(backend, claim, methods)
    finally:
        await backend.close()


def _read(db_path: Path, round_id: str, node: str | None) -> tuple[dict, dict]:
    from node.errors import NotFound
    from reputation.log import ConsensusLog
    from reputation.queries import answer_of, find_announce

    log = ConsensusLog(db_path)
    try:
        announce = find_announce(log, round_id)
        if announce is None:
            raise NotFound(f"unknown round {round_id} in {db_path}", code="unknown_round")
        return announce, answer_of(log, round_id, node)
    finally:
        log.close()


@click.command("verify")
@click.argument("round_id")
@db_option("The consensus log holding the round.")
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
    from node.config import InferenceConfig

    announce, answer = _read(db_path, round_id, node)
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
