"""The log's rows read with every column type-checked, so that no row the file holds
can crash the audit.

A log handed to an auditor is the operator's word, byte for byte: SQLite stores any
value in any column (a BLOB or an integer where the node writes text, text that is
not UTF-8, which Python's `sqlite3` cannot even fetch). Each column is therefore
selected with its storage class (`typeof`) and text and BLOBs as their bytes
(`CAST(... AS BLOB)`), and checked against `COLUMNS`, the types the node writes:

- `int`: an INTEGER;
- `real`: a REAL or an INTEGER (as a float), finite;
- `text`: TEXT that is valid UTF-8;
- `id`: a round id, TEXT of `0x` and 64 lower-case hex digits (how `round_id_for`
  writes it); anything else is no round of the protocol, and is never written out
  as it stands;
- a trailing `?`: NULL is allowed too.

A row with a column of the wrong type comes back with its `problems` (one line per
column, naming the storage class found, never the value) and is left out of what
the audit recomputes; the audit turns the problems into a finding. What a text
column says (a digest that is not hex, JSON that does not parse) is the checks'
business, not this module's.
"""

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COLUMNS", "ROUND_ID", "Row", "is_round_id", "read_rows"]

COLUMNS: dict[str, dict[str, str]] = {
    "messages": {
        "seq": "int",
        "message_digest": "text",
        "prev_digest": "text",
        "digest": "text",
        "type": "text",
        "round_id": "text?",  # its shape is the `round_id` check (`reputation.audit.entries`)
        "sender": "text",
        "timestamp": "real",
        "raw": "text",
    },
    "rounds": {
        "round_id": "id",
        "coordinator": "text",
        "created": "real",
        "status": "text",
        "winner": "text?",
        "result": "text",
    },
    "evidence": {
        "id": "int",
        "kind": "text",
        "round_id": "id?",
        "sender": "text",
        "message_type": "text",
        "first_digest": "text",
        "second_digest": "text",
        "first": "text",
        "second": "text",
        "detected": "real?",
    },
    "batches": {
        "batch": "int",
        "root": "text",
        "rounds": "int",
        "created": "real",
        "first_evidence": "int",
        "last_evidence": "int",
        "settlement": "text?",
        "committed_block": "int?",
        "settled_block": "int?",
    },
    "batch_rounds": {
        "round_id": "id",
        "batch": "int",
        "leaf": "int",
        "result_digest": "text",
    },
}
"""Table → column → its type, as the node writes it (`reputation.log`, `reputation.chainlog`)."""

ORDER = {
    "messages": "seq",
    "rounds": "round_id",
    "evidence": "id",
    "batches": "batch",
    "batch_rounds": "batch, leaf",
}
KEY = {"messages": "seq", "rounds": "round_id", "evidence": "id", "batches": "batch"}
KEY["batch_rounds"] = "round_id"

ROUND_ID = re.compile(r"0x[0-9a-f]{64}")


def is_round_id(value: Any) -> bool:
    return isinstance(value, str) and ROUND_ID.fullmatch(value) is not None


@dataclass
class Row:
    table: str
    number: int
    """The row's place in the table's order, from 1 (its key may be what is wrong)."""
    values: dict[str, Any]
    """Every column's value: of its type when it has no problem, else None."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def where(self) -> str:
        """How a finding names the row (the key only when it is well-typed)."""
        key = KEY[self.table]
        value = self.values.get(key)  # None when its type is wrong: then only the place
        if value is None:
            return f"{self.table} row {self.number}"
        return f"{self.table} row {self.number} ({key} {str(value)[:18]})"


def read_rows(db: Any, table: str) -> Iterator[Row]:
    """Every row of `table` (a key of `COLUMNS`) in key order, type-checked; `db` is a
    sqlite-utils `Database` or a `sqlite3.Connection`."""
    columns = COLUMNS[table]
    select = ", ".join(
        f"typeof([{c}]), CASE WHEN typeof([{c}]) IN ('text', 'blob') "
        f"THEN CAST([{c}] AS BLOB) ELSE [{c}] END"
        for c in columns
    )
    cursor = db.execute(f"SELECT {select} FROM [{table}] ORDER BY {ORDER[table]}")
    for number, raw in enumerate(cursor, start=1):
        row = Row(table, number, {})
        for i, (name, kind) in enumerate(columns.items()):
            value, problem = _typed(raw[2 * i], raw[2 * i + 1], kind)
            row.values[name] = value
            if problem:
                row.problems.append(f"{name} {problem}")
        yield row


def _typed(storage: str, value: Any, kind: str) -> tuple[Any, str | None]:
    """(the value as its type, None) or (None, what is wrong with it)."""
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    if storage == "null":
        return (None, None) if nullable else (None, "is NULL")
    if kind == "int":
        return (
            (value, None) if storage == "integer" else (None, f"is {_a(storage)}, not an integer")
        )
    if kind == "real":
        if storage not in ("integer", "real"):
            return None, f"is {_a(storage)}, not a number"
        number = float(value)
        return (number, None) if math.isfinite(number) else (None, "is not a finite number")
    if storage != "text":
        return None, f"is {_a(storage)}, not text"
    try:
        text = bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return None, "is text that is not UTF-8"
    if kind == "id" and not is_round_id(text):
        return None, "is not a round id (0x and 64 lower-case hex digits)"
    return text, None


def _a(storage: str) -> str:
    return {"integer": "an integer", "real": "a real", "blob": "a BLOB"}.get(storage, storage)
