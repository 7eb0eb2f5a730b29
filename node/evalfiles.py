"""Read the two `swarm eval` file formats (../shared/data/README.md) into tables.

Judgments CSV: subset, pair_id, gold (1|2), judge, strategy, verdict_original,
verdict_swapped; a verdict is 1, 2, 0 (tie) or blank (none). Answers CSV:
question_id, category, gold, then one column per member; answers are compared
after trimming, blank = no answer. `subset` / `category` become the categories
that reputation is kept per. `swarm eval judges` leaves out the pairs of the
node's calibration bank (`reputation.bank`), which a node's proof-of-capability
uses: what calibrates nodes is never what the evaluation scores. Pairs JSONL
(`read_instructions`): one JSON object a line with at least `pair_id` and `input`
(the instruction), for inferring topics.
Any defect is a `BadRequest` naming the line.
"""

import csv
import json
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from node.errors import BadRequest
from ranking.tables import AnswerTable, JudgmentTable

__all__ = ["read_answers", "read_instructions", "read_judgments"]

JUDGMENT_COLUMNS = ("subset", "pair_id", "gold", "judge", "verdict_original", "verdict_swapped")
ANSWER_COLUMNS = ("question_id", "category", "gold")
_VERDICT = {"1": 1.0, "2": 0.0, "0": 0.5}  # P(output_1 is better)


def _bad(path: Path, line: int, message: str) -> BadRequest:
    return BadRequest(f"{path}:{line}: {message}", code="invalid_eval_file")


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}", code="invalid_eval_file") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise _bad(path, 1, f"missing column(s) {', '.join(missing)}")
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise _bad(path, reader.line_num, "wrong number of fields")
                yield reader.line_num, row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _bad(path, reader.line_num, f"not a UTF-8 CSV file ({exc})") from exc


def read_judgments(path: Path, leave_out: Collection[str] = ()) -> JudgmentTable:
    """The judgments, without the rows of the pairs in `leave_out`."""
    pairs: dict[str, int] = {}
    judges: dict[str, int] = {}
    cats: dict[str, int] = {}
    gold: list[int] = []
    category: list[int] = []
    pair_col: list[int] = []
    judge_col: list[int] = []
    first_col: list[int] = []
    outcome_col: list[float] = []
    skipped: set[str] = set()
    for line, row in _rows(path, JUDGMENT_COLUMNS):
        g = row["gold"].strip()
        if g not in ("1", "2"):
            raise _bad(path, line, f"gold must be 1 or 2, got {g!r}")
        pid = row["pair_id"].strip()
        if not pid:
            raise _bad(path, line, "empty pair_id")
        if pid in leave_out:
            skipped.add(pid)
            continue
        if pid not in pairs:
            pairs[pid] = len(pairs)
            gold.append(int(g) - 1)
            category.append(cats.setdefault(row["subset"].strip(), len(cats)))
        elif gold[pairs[pid]] != int(g) - 1:
            raise _bad(path, line, f"pair {pid} has two different gold labels")
        judge = judges.setdefault(row["judge"].strip(), len(judges))
        for first, column in ((0, "verdict_original"), (1, "verdict_swapped")):
            value = row[column].strip()
            if not value:
                continue
            if value not in _VERDICT:
                raise _bad(path, line, f"{column} must be 1, 2, 0 or blank, got {value!r}")
            support = _VERDICT[value]  # for output_1, which is shown second when swapped
            pair_col.append(pairs[pid])
            judge_col.append(judge)
            first_col.append(first)
            outcome_col.append(support if first == 0 else 1 - support)
    if not pairs:
        raise _bad(path, 1, "no rows" + (" outside the calibration bank" if leave_out else ""))
    return JudgmentTable(
        pair_ids=list(pairs),
        category=np.array(category, dtype=np.intp),
        category_names=list(cats),
        gold=np.array(gold, dtype=np.intp),
        judges=list(judges),
        pair=np.array(pair_col, dtype=np.intp),
        judge=np.array(judge_col, dtype=np.intp),
        first=np.array(first_col, dtype=np.intp),
        outcome=np.array(outcome_col, dtype=np.float64),
        left_out=len(skipped),
    )


def read_answers(path: Path) -> AnswerTable:
    ids: list[str] = []
    cats: dict[str, int] = {}
    category: list[int] = []
    gold: list[int] = []
    codes: list[list[int]] = []
    members: list[str] = []
    for line, row in _rows(path, ANSWER_COLUMNS):
        if not members:
            members = [c for c in row if c not in ANSWER_COLUMNS]
            if len(members) < 2:
                raise _bad(path, 1, "need answer columns for at least two members")
        g = row["gold"].strip()
        if not g:
            raise _bad(path, line, "empty gold answer")
        distinct: dict[str, int] = {}
        answers = [row[m].strip() for m in members]
        codes.append([distinct.setdefault(a, len(distinct)) if a else -1 for a in answers])
        gold.append(distinct.get(g, -1))
        ids.append(row["question_id"].strip())
        category.append(cats.setdefault(row["category"].strip(), len(cats)))
    if not ids:
        raise _bad(path, 1, "no rows")
    return AnswerTable(
        item_ids=ids,
        category=np.array(category, dtype=np.intp),
        category_names=list(cats),
        gold=np.array(gold, dtype=np.intp),
        members=members,
        answers=np.array(codes, dtype=np.intp),
    )


def read_instructions(path: Path, pair_ids: list[str]) -> list[str]:
    """The instruction of each of `pair_ids`, from a pairs JSONL file."""
    found: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequest(f"cannot read {path}: {exc}", code="invalid_eval_file") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise _bad(path, number, f"not JSON ({exc})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("pair_id"), str):
            raise _bad(path, number, "needs an object with a string pair_id")
        if not isinstance(row.get("input"), str):
            raise _bad(path, number, "needs a string input (the instruction)")
        found[row["pair_id"]] = row["input"]
    missing = [p for p in pair_ids if p not in found]
    if missing:
        raise BadRequest(
            f"{path}: no instruction for {len(missing)} judged pair(s), e.g. {missing[0]}",
            code="invalid_eval_file",
        )
    return [found[p] for p in pair_ids]
