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

    log = ConsensusLog(db_path, readonly=True)
    try:
        count = verify_log(log)
    finally:
        log.close()
    click.echo(f"{count} messages: hash chain and signatures verify")


@log_group.command("export")
@db_option("A node's consensus log file.")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here (default: standard output).",
)
@domain_errors
def log_export(db_path: Path, out: Path | None) -> None:
    """Write the log as JSON lines: a header, then one row per line (the messages,
    rounds, evidence and batches, as stored), then an end line, for `swarm audit` or
    other tools. Streams from a read-only connection (one snapshot; a running node
    goes on writing), so the log is never held in memory whole."""
    import sys

    from reputation.export import iter_export

    if out is None:
        stdout = sys.stdout.buffer
        for chunk in iter_export(db_path):
            stdout.write(chunk)
        stdout.flush()
        return
    tmp = out.with_suffix(out.suffix + ".tmp")
    lines = 0
    try:
        with tmp.open("wb") as f:
            for chunk in iter_export(db_path):
                f.write(chunk)
                lines += chunk.count(b"\n")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(f"{lines - 2} rows written to {out}", err=True)


@log_group.command("browse")
@db_option("A node's consensus log file.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to serve on.")
@domain_errors
def log_browse(db_path: Path, host: str, port: int) -> None:
    """Open the log in Datasette (its connections read-only, so a running node's
    latest writes show), with canned queries: rounds with their
    winners, a node's history, the verdicts and candidates of a round, batches,
    refused chain writes (views of the same names are in the file)."""
    import json
    import tempfile
    from importlib.resources import files

    from reputation.log import ConsensusLog

    ConsensusLog(db_path, readonly=True).close()  # a readable log of this schema
    template = json.loads(files("reputation").joinpath("data/datasette.json").read_text())
    metadata = {
        "title": template["title"],
        "description": template["description"],
        "databases": {db_path.stem: {"queries": template["queries"]}},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(metadata, f)
    args = ["serve", str(db_path), "--metadata", f.name, "--host", host, "--port", str(port)]
    click.echo(f"serving {db_path} at http://{host}:{port}/{db_path.stem} (Ctrl-C stops)", err=True)
    from datasette.cli import cli as datasette

    try:  # in this process, so that a signal to it stops the server
        datasette.main(args, prog_name="datasette", standalone_mode=True)
    finally:
        Path(f.name).unlink(missing_ok=True)
