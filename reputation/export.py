"""A consensus log as JSON lines, and back: what `swarm log export` writes, what a
node serves to an auditor (`GET /swarm/v1/log/export`) and what `swarm audit
--url` reads.

The first line is a header (`{"export": "swarm-consensus-log", "schema": N,
"owner": ...}`); every other line is one row, `{"table": ..., "row": {...}}`, of
the tables an audit reads (`TABLES`), each table in key order. Rows are copied as
stored (raw messages, digests, links), never rebuilt: an import holds exactly what
the exporting node's file held, so the audit of an import finds what the audit of
the file would. The outbox (signed transactions) stays out.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from reputation.log import MIGRATIONS, ConsensusLog, LogError

__all__ = ["HEADER", "TABLES", "export_lines", "import_lines"]

HEADER = "swarm-consensus-log"
TABLES = {
    "messages": "seq",
    "rounds": "round_id",
    "evidence": "id",
    "batches": "batch",
    "batch_rounds": "round_id",
}
"""Table → the column its rows are written in the order of."""


def export_lines(log: ConsensusLog) -> Iterator[str]:
    yield json.dumps({"export": HEADER, "schema": log.schema_version, "owner": log.owner()})
    for table, key in TABLES.items():
        for row in log.db.query(f"SELECT * FROM {table} ORDER BY {key}"):
            yield json.dumps({"table": table, "row": row}, separators=(",", ":"))


def import_lines(lines: Iterable[str], path: Path) -> ConsensusLog:
    """A new log file at `path` holding the exported rows (`LogError` if the lines
    are not an export of this schema)."""
    if path.exists():
        raise LogError(f"{path} exists; an import makes a new file")
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    header: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise LogError(f"export line {number} is not JSON: {exc}") from exc
        if header is None:
            header = item
            if not isinstance(item, dict) or item.get("export") != HEADER:
                raise LogError("not a consensus log export (no header line)")
            if item.get("schema") != len(MIGRATIONS):
                raise LogError(
                    f"the export has schema {item.get('schema')}; this code reads {len(MIGRATIONS)}"
                )
            continue
        if not isinstance(item, dict) or item.get("table") not in TABLES:
            raise LogError(f"export line {number} is not a row of {', '.join(TABLES)}")
        if not isinstance(item.get("row"), dict):
            raise LogError(f"export line {number} has no row")
        rows[item["table"]].append(item["row"])
    if header is None:
        raise LogError("the export is empty")
    log = ConsensusLog(path)
    try:
        with log.db.atomic():
            for table, found in rows.items():
                if found:
                    log.db[table].insert_all(found)
    except Exception as exc:
        log.close()
        path.unlink(missing_ok=True)
        raise LogError(f"the export's rows do not fit the log: {exc}") from exc
    return log
