"""`swarm eval`: score the swarm's ranking against gold labels on your own data."""

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from node.cli.options import console, domain_errors, json_option

__all__ = ["evaluate"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _rotations_option(func: Any) -> Any:
    func = click.option(
        "--seed", default=0, show_default=True, type=int, help="Seed of the splits and swarms."
    )(func)
    return click.option(
        "--rotations",
        default=5,
        show_default=True,
        type=click.IntRange(2, 50),
        help="Calibration rotations: 1/N of the items give reputation, the rest are scored.",
    )(func)


@click.group("eval")
def evaluate() -> None:
    """Score ranking methods against gold labels (formats: see the README)."""


@evaluate.command("judges")
@click.argument("file", type=_FILE)
@_rotations_option
@click.option(
    "--pairs",
    type=_FILE,
    help="The pairs' JSONL (pair_id, input): adds swarm_inferred_topic, with topics "
    "inferred from the instructions instead of FILE's categories.",
)
@click.option(
    "--topics",
    type=click.IntRange(1, 1000),
    help="Topics to infer with --pairs  [default: about sqrt(pairs / 8)]",
)
@json_option
@domain_errors
def eval_judges(
    file: Path, rotations: int, seed: int, pairs: Path | None, topics: int | None, as_json: bool
) -> None:
    """Aggregate many judges' verdicts per pair in FILE; accuracy per method. The pairs of
    the node's calibration bank are left out."""
    from node.evalfiles import read_instructions, read_judgments
    from ranking.eval_judges import evaluate_judgments
    from reputation.bank import load_bank
    from reputation.topics import TopicModel

    table = read_judgments(file, load_bank().pair_ids)
    inferred = None
    with console.status("evaluating") as status:
        if pairs is not None:
            status.update("inferring topics from the instructions")
            texts = read_instructions(pairs, table.pair_ids)
            inferred = TopicModel.fit(texts, topics, seed).assign(texts)
        report = evaluate_judgments(table, rotations, seed, status.update, inferred)
    if inferred is not None:
        report.details["inferred_topics"] = int(inferred.max()) + 1
    report.details["calibration_bank_left_out"] = table.left_out
    _emit(file, report, as_json, unit="pairs")


@evaluate.command("answers")
@click.argument("file", type=_FILE)
@_rotations_option
@click.option(
    "--swarm-size", default=5, show_default=True, type=click.IntRange(2), help="Random swarm size."
)
@click.option(
    "--swarms",
    default=20,
    show_default=True,
    type=click.IntRange(0),
    help="How many random swarms to average over (0: only all members).",
)
@json_option
@domain_errors
def eval_answers(
    file: Path, rotations: int, seed: int, swarm_size: int, swarms: int, as_json: bool
) -> None:
    """Simulate swarm rounds over many members' answers in FILE; accuracy per method."""
    from node.evalfiles import read_answers
    from ranking.eval_answers import evaluate_answers

    table = read_answers(file)
    with console.status("evaluating") as status:
        report = evaluate_answers(
            table, rotations, seed, swarm_size, swarms, progress=status.update
        )
    _emit(file, report, as_json, unit="questions")


def _emit(file: Path, report: Any, as_json: bool, unit: str) -> None:
    body = {
        "file": str(file),
        "items": report.items,
        "methods": {k: round(v, 4) for k, v in report.methods.items()},
        "calibration": report.calibration,
        **report.details,
    }
    swarms = report.details.get("swarms")
    if swarms:
        body["swarms"] = {
            **swarms,
            "methods": {k: round(v, 4) for k, v in swarms["methods"].items()},
        }
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    table = Table(title=f"{file.name}: {report.items} {unit} scored")
    table.add_column("method")
    table.add_column("accuracy", justify="right")
    if swarms:
        table.add_column(f"mean over {swarms['count']} swarms of {swarms['size']}", justify="right")
    for name, value in report.methods.items():
        row = [name, f"{value:.4f}"]
        if swarms:
            row.append(f"{swarms['methods'][name]:.4f}" if name in swarms["methods"] else "—")
        table.add_row(*row)
    Console().print(table, soft_wrap=True)
    if report.details.get("calibration_bank_left_out"):
        click.echo(
            f"{report.details['calibration_bank_left_out']} pairs of the node's calibration "
            "bank left out"
        )
    cal = report.calibration
    click.echo(
        f"reputation from a calibration split of {cal['fraction']:.0%} per category, "
        f"{cal['rotations']} rotations (seed {cal['seed']}); best_single_hindsight uses "
        "the scored items' gold labels and is a reference only"
    )
