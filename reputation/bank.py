"""The calibration bank: challenges with known correct results, built from real data.

Two kinds (DESIGN.md, "Reputation, stake, proof-of-capability"):

- **Judging**: an instruction and two answers, one known to be better. The better
  one is the instruction's own better output in LLMBar; the other is the better
  output of *another* bank instruction, so the known answer is "the one that
  answers this instruction". A 135M model judges LLMBar's own pairs at chance
  (0.497 with the judge prompt; 0.506 by likelihood), so a test on them could not
  tell a real model from a coin; telling an answer from a foreign one it does, by the
  likelihood of the answer's first tokens (`reputation.calibration`; measured in
  `benchmarks/calibration.py`).
- **Answering**: a question with a known answer: LLMBar's `CaseStudy/Base_10`
  additions ("what is 75+48?"), whose answer is the sum.

Kept apart from `swarm eval`: the bank takes every `Base_10` pair and a fixed 20%
of the others, chosen by the keccak of the pair id (`in_bank`), and
`swarm eval judges` leaves the bank's pairs out of what it scores. The bank ships
with the package (`data/calibration_bank.json`, written by
`python -m reputation.bank ../shared/data/llmbar_pairs.jsonl`), because a node in
production has no `shared/`.
"""

import json
import random
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak

__all__ = [
    "ANSWER_SUBSET",
    "BANK_FILE",
    "AnsweringChallenge",
    "Bank",
    "JudgingChallenge",
    "build",
    "in_bank",
    "load_bank",
]

BANK_FILE = Path(__file__).parent / "data" / "calibration_bank.json"
ANSWER_SUBSET = "CaseStudy/Base_10"
SHARE = 0.2
"""Of the other pairs, the share that goes to the bank."""
INSTRUCTION_CHARS = 600
ANSWER_CHARS = 400
"""Instructions and answers are cut to these many characters: a judging challenge reads
only an answer's first tokens (`reputation.calibration.MAX_ANSWER_TOKENS`)."""


def in_bank(pair_id: str, subset: str) -> bool:
    """Whether an LLMBar pair belongs to the calibration bank (and not to `swarm eval`)."""
    return subset == ANSWER_SUBSET or keccak(text=pair_id)[0] < round(256 * SHARE)


@dataclass(frozen=True)
class JudgingChallenge:
    instruction: str
    better: str
    worse: str


@dataclass(frozen=True)
class AnsweringChallenge:
    question: str
    answer: str
    """The known result, as the digits the reply must end with."""


@dataclass(frozen=True)
class Bank:
    judging: tuple[JudgingChallenge, ...]
    answering: tuple[AnsweringChallenge, ...]
    pair_ids: frozenset[str]
    """The LLMBar pairs it was built from (which `swarm eval` leaves out)."""

    def draw(
        self, seed: bytes, judging: int, answering: int
    ) -> tuple[list[JudgingChallenge], list[AnsweringChallenge]]:
        """A sample without replacement, seeded (a session's challenge id)."""
        rng = random.Random(seed)
        return (
            rng.sample(self.judging, min(judging, len(self.judging))),
            rng.sample(self.answering, min(answering, len(self.answering))),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "judging": [asdict(c) for c in self.judging],
            "answering": [asdict(c) for c in self.answering],
            "pair_ids": sorted(self.pair_ids),
        }


def _better(row: Mapping[str, Any]) -> str:
    return str(row["output_1"] if row["gold"] == 1 else row["output_2"])[:ANSWER_CHARS]


def build(rows: Iterable[Mapping[str, Any]]) -> Bank:
    """The bank from LLMBar pair rows (`llmbar_pairs.jsonl`)."""
    judging_rows, answering, ids = [], [], set()
    for row in rows:
        if not in_bank(str(row["pair_id"]), str(row["subset"])):
            continue
        ids.add(str(row["pair_id"]))
        if row["subset"] == ANSWER_SUBSET:
            terms = re.search(r"what is (\d+)\+(\d+)", str(row["input"]))
            if terms:
                total = int(terms.group(1)) + int(terms.group(2))
                answering.append(AnsweringChallenge(str(row["input"]), str(total)))
        else:
            judging_rows.append(row)
    # each instruction against the better answer of one from another subset, seeded
    rng = random.Random(0)
    judging = []
    for row in judging_rows:
        others = [r for r in judging_rows if r["subset"] != row["subset"]]
        foreign = rng.choice(others)
        judging.append(
            JudgingChallenge(str(row["input"])[:INSTRUCTION_CHARS], _better(row), _better(foreign))
        )
    return Bank(tuple(judging), tuple(answering), frozenset(ids))


@cache
def load_bank(path: Path = BANK_FILE) -> Bank:
    data = json.loads(path.read_text())
    return Bank(
        tuple(JudgingChallenge(**c) for c in data["judging"]),
        tuple(AnsweringChallenge(**c) for c in data["answering"]),
        frozenset(data["pair_ids"]),
    )


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m reputation.bank LLMBAR_PAIRS.jsonl")
    with open(argv[0], encoding="utf-8") as f:
        bank = build(json.loads(line) for line in f if line.strip())
    BANK_FILE.write_text(json.dumps(bank.as_json(), indent=0, ensure_ascii=False) + "\n")
    print(f"wrote {BANK_FILE}: {len(bank.judging)} judging, {len(bank.answering)} answering")


if __name__ == "__main__":
    main(sys.argv[1:])
