"""`swarm audit`: a node's consensus log checked end to end (`reputation.audit`).

Reads the log read-only (`--db`), or a live node's log through its authenticated
export (`--url`, with the token its operator set: `server.audit_token`),
recomputes every round of its owner and every batch, and with `--rpc` and
`--registry` checks them against the chain (`--local-chain DATA_DIR`: the saved
chain of a stopped `swarm up`, started read-only for the audit). Prints a summary and each finding
with its round and log entry (`--json`: the whole report), and writes an HTML
report with `--report`. Exit status: 0 when the log is clean, 1 when the audit
found discrepancies, 2 when it could not run (a missing file, an unreachable
chain, bad options).
"""

import asyncio
import contextlib
import json
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from node.cli.options import console, json_option
from swarm_errors import SwarmError

__all__ = ["audit"]


class AuditError(click.ClickException):
    exit_code = 2


class When(click.ParamType):
    """A time: seconds since the epoch, or an ISO 8601 date or date and time (UTC
    unless it names its zone)."""

    name = "TIME"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is neither seconds since 1970 nor an ISO 8601 time", param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()


def _run(
    db: Path,
    owner: str | None,
    start: float | None,
    end: float | None,
    rpc: str | None,
    registry: str | None,
    quiet: bool,
) -> Any:
    from contracts.client import Chain
    from reputation.audit import audit_log, check_against_chain
    from reputation.log import ConsensusLog

    log = ConsensusLog(db, readonly=True)
    try:
        with Progress(
            TextColumn("auditing rounds"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=quiet,
        ) as bar:
            task = bar.add_task("rounds", total=None)
            report = audit_log(
                log,
                owner,
                start,
                end,
                lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        log.close()
    if rpc and registry:

        async def against() -> None:
            chain = await Chain.at(rpc, registry)
            try:
                await check_against_chain(report, chain)
            finally:
                await chain.close()

        asyncio.run(against())
    return report


ERROR_BODY_BYTES = 64 * 1024
"""How much of a refusal's body is read (its one-line message)."""


def _fetch(url: str, token: str, path: Path) -> Path:
    """A live node's exported log, imported into a new file at `path`: the body is
    read in chunks into a file next to it, up to `MAX_EXPORT_BYTES`, then imported
    line by line with each line bounded (`reputation.export`); nothing of it is held
    in memory whole."""
    import aiohttp

    from reputation.bounded import JsonRefused, loads
    from reputation.export import CHUNK_BYTES, MAX_EXPORT_BYTES, import_lines, read_lines

    async def get(into: IO[bytes]) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
        export = f"{url.rstrip('/')}/swarm/v1/log/export"
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(export, headers=headers) as r,
        ):
            if r.status != 200:
                body = await r.content.read(ERROR_BODY_BYTES)
                try:
                    message = str(loads(body, ERROR_BODY_BYTES)["error"]["message"])[:500]
                except (JsonRefused, KeyError, TypeError):
                    message = r.reason or ""
                raise AuditError(f"{url} refused the export ({r.status}): {_plain(message)}")
            size = 0
            async for chunk in r.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_EXPORT_BYTES:
                    raise AuditError(f"the export at {url} is over {MAX_EXPORT_BYTES} bytes")
                into.write(chunk)

    with path.with_suffix(".jsonl").open("w+b") as f:
        try:
            asyncio.run(get(f))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AuditError(f"cannot read the log at {url}: {exc}") from exc
        f.seek(0)
        import_lines(read_lines(f), path).close()
    return path


def _summary(report: Any) -> dict[str, Any]:
    findings = report.all_findings()
    by_check: dict[str, int] = {}
    for f in findings:
        by_check[f.check] = by_check.get(f.check, 0) + 1
    return {
        "log": report.path,
        "owner": report.owner,
        "messages": report.messages,
        "rounds": len(report.rounds),
        "batches": len(report.batches),
        "chain": report.chain,
        "clean": report.clean,
        "seconds": round(report.seconds, 3),
        "findings_by_check": by_check,
        "findings": [f.as_dict() for f in findings],
        "unchecked": sorted({u for r in report.rounds for u in r.unchecked}),
    }


@click.command("audit")
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The consensus log to audit (read, never changed).",
)
@click.option("--url", help="Audit a live node's log instead: its base URL (it must export it).")
@click.option(
    "--token",
    envvar="SWARM_AUDIT_TOKEN",
    help="The node's audit token, for --url (or SWARM_AUDIT_TOKEN).",
)
@click.option("--owner", help="The node whose rounds to recompute (default: the log's own).")
@click.option("--rpc", help="A chain RPC URL, to check registrations, roots and reputation.")
@click.option("--registry", help="The Swarm contract's address on that chain.")
@click.option(
    "--local-chain",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Check against the saved chain of a stopped `swarm up` (its --data-dir): started "
    "read-only for the audit, in place of --rpc and --registry.",
)
@click.option("--from", "start", type=When(), help="Recompute rounds announced from this time.")
@click.option("--to", "end", type=When(), help="…and up to this time.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a self-contained HTML report here.",
)
@json_option
def audit(
    db_path: Path | None,
    url: str | None,
    token: str | None,
    owner: str | None,
    rpc: str | None,
    registry: str | None,
    local_chain: Path | None,
    start: float | None,
    end: float | None,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Recompute a consensus log's rounds from what their senders signed and check
    them (and, with --rpc and --registry, the chain); exit 1 on any discrepancy."""
    if local_chain is not None and (rpc or registry):
        raise AuditError("--local-chain replaces --rpc and --registry")
    if bool(rpc) != bool(registry):
        raise AuditError("--rpc and --registry go together")
    if bool(db_path) == bool(url):
        raise AuditError("give one of --db (a log file) or --url (a live node)")
    try:
        with tempfile.TemporaryDirectory(prefix="swarm-audit-") as tmp:
            if url:
                db_path = _fetch(url, token or "", Path(tmp) / "export.db")
            assert db_path is not None
            with contextlib.ExitStack() as stack:
                if local_chain is not None:  # the saved anvil, read-only, while it runs
                    from contracts.anvil import saved_chain

                    saved = stack.enter_context(saved_chain(local_chain))
                    rpc, registry = saved.rpc_url, saved.contract
                report = _run(db_path, owner, start, end, rpc, registry, quiet=as_json)
            if url:
                report.path = f"{url.rstrip('/')}/swarm/v1/log/export"
            if report_path is not None:
                from reputation.audit.html import write_report

                write_report(report, report_path)
    except click.ClickException:
        raise
    except (SwarmError, OSError) as exc:
        raise AuditError(_plain(str(exc))) from exc
    except sqlite3.Error as exc:  # a damaged file, found part way through
        raise AuditError(f"cannot read the log: {exc}") from exc
    except Exception as exc:  # never a traceback: the audit could not run
        raise AuditError(
            f"the audit could not run: {type(exc).__name__}: {_plain(str(exc))}"
        ) from exc
    summary = _summary(report)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print(summary, report_path)
    raise SystemExit(0 if report.clean else 1)


def _plain(text: str) -> str:
    """`text` from the log with its control characters shown escaped, so a finding
    cannot move the cursor or recolour the terminal it is printed on."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _print(summary: dict[str, Any], report_path: Path | None) -> None:
    table = Table(title=f"audit of {summary['log']}", show_header=False)
    table.add_row("owner", str(summary["owner"]))
    table.add_row("messages", str(summary["messages"]))
    table.add_row("rounds recomputed", str(summary["rounds"]))
    table.add_row("batches", str(summary["batches"]))
    table.add_row("chain", summary["chain"] or "not checked (no --rpc)")
    table.add_row("seconds", str(summary["seconds"]))
    verdict = (
        "[green]clean[/]" if summary["clean"] else f"[red]{len(summary['findings'])} findings[/]"
    )
    table.add_row("result", verdict)
    console.print(table)
    for check, count in sorted(summary["findings_by_check"].items()):
        console.print(f"  {check}: {count}")
    for f in summary["findings"]:
        where = [f"round {f['round_id']}"] if f["round_id"] else []
        where += [f"entry {f['seq']}"] if f["seq"] is not None else []
        text = f"[{f['check']}] {', '.join(where) + ': ' if where else ''}{f['message']}"
        click.echo(_plain(text))
    for note in summary["unchecked"]:
        console.print(f"[yellow]not checked:[/] {note}")
    if report_path is not None:
        console.print(f"report: {report_path}")
