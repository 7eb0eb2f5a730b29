"""Sybil resistance of the reputation rules, simulated on LLMBar's real verdicts.

A long stream of rounds, one LLMBar pair each (the pairs in a seeded order, cycled).
Each round has two candidates: the pair's better output (gold), written by an
honest node, and its worse output: the attacker's cheap answer when one of its
identities is drawn to answer, else the same text from an honest but weak writer.
Judges are drawn from the six real LLM judges (each an honest node with
`--honest-stake` ether) and the attacker's m identities, by the node's own draw
(`reputation.draws.draw_participants`, weights `reputation.rules.draw_weight` of
stake and reputation). An honest judge gives its real LLMBar verdicts on the pair
(both orders; a judge LLMBar has no verdict from gives none); an attacker identity
always favours the attacker's text when one of its identities wrote it, and
otherwise judges like the best real judge (GPT-4's verdicts), to earn its records.
The round is ranked by the node's code
(`ranking.consensus.rank_round`, priors from `reputation.records.JudgeBook` per
topic, the pair's subset as the client's category), and every node's points come
from `reputation.rules.round_points` on the round's `SwarmResult`, decaying with
the rules' half-life (a round every `--round-seconds`). Entering costs each
identity the minimum stake (1 ether) and a calibration it is assumed to pass (it
can answer honestly when tested), so the attacker pays for every identity. The
pairs of the node's calibration bank (`reputation.bank.in_bank`) never enter the
stream: the judges' verdicts on them are their calibration records
(`JudgeBook.calibrate`).

Printed per scenario (m identities, attacker stake): consensus accuracy (the better
output wins), the attacker's share of wins (its text won a round it wrote) and of
influence (its judges' share of the verdict weight that counted as cast,
Σ max(0, 2η − 1) over the judges of each round), its share of the draw weight at
the end, and the round after which its identities' mean draw weight stays below
the honest judges'. The same for the honest but weak: the weak writer's wins, and
the two weakest real judges' share of influence.

    python benchmarks/sybil.py [--rounds 3600] [--json] [--write]

(Importable as `benchmarks.sybil`: `tests/reputation/test_sybil.py` runs a short
stream of it.)
"""

import argparse
import csv
import json
import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ranking.consensus import JudgeRecord, rank_round
from reputation.aggregate import BT_PRIOR
from reputation.bank import in_bank
from reputation.draws import draw_participants
from reputation.records import JudgeBook
from reputation.result import SwarmResult, topic_key
from reputation.rules import HALF_LIFE, draw_weight, round_points

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "llmbar_judgments.csv"
ETHER = 10**18
JUDGES_PER_ROUND = 5
HONEST_WRITER, WEAK_WRITER = "honest-writer", "weak-writer"


@dataclass
class Pair:
    pair_id: str
    subset: str
    verdicts: dict[str, list[float]]
    """Per judge, P(the better output is better) of each order it judged."""


def load(path: Path) -> list[Pair]:
    pairs: dict[str, Pair] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            pair = pairs.setdefault(row["pair_id"], Pair(row["pair_id"], row["subset"], {}))
            got = []
            for verdict in (row["verdict_original"], row["verdict_swapped"]):
                if verdict in ("1", "2"):
                    got.append(1.0 if verdict == row["gold"] else 0.0)
                elif verdict == "0":
                    got.append(0.5)
            if got:
                pair.verdicts[row["judge"]] = got
    return list(pairs.values())


def split(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(calibration bank, scored stream): the pairs of the node's calibration bank
    (`reputation.bank.in_bank`), which the stream never shows."""
    bank = [p for p in pairs if in_bank(p.pair_id, p.subset)]
    return bank, [p for p in pairs if not in_bank(p.pair_id, p.subset)]


def calibration(bank: list[Pair]) -> dict[str, dict[str, JudgeRecord]]:
    """Each judge's proof-of-capability record: agreement with the known better output
    of the bank's pairs, overall ("") and per topic (the subset, as a client category)."""
    counts: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for pair in bank:
        for judge, got in pair.verdicts.items():
            for key in ("", topic_key("client", pair.subset)):
                counts[judge][key][0] += sum(got)
                counts[judge][key][1] += len(got) - sum(got)
    return {
        judge: {key: JudgeRecord(a, d) for key, (a, d) in by_key.items()}
        for judge, by_key in counts.items()
    }


def judge_accuracy(pairs: list[Pair]) -> dict[str, float]:
    hits: dict[str, list[float]] = defaultdict(list)
    for pair in pairs:
        for judge, got in pair.verdicts.items():
            hits[judge].extend(got)
    return {j: sum(h) / len(h) for j, h in hits.items()}


@dataclass
class Node:
    stake: int
    reputation: float = 0.0
    last: float = 0.0

    def decay_to(self, now: float) -> None:
        """Bring the decayed sum of points to `now` (`reputation.rules.decayed`, kept
        as a running sum: each point's weight halves every HALF_LIFE)."""
        self.reputation *= 2.0 ** (-(now - self.last) / HALF_LIFE)
        self.last = now


@dataclass
class Outcome:
    rounds: int = 0
    correct: int = 0
    attacker_wins: int = 0
    attacker_rounds: int = 0
    weak_wins: int = 0
    weak_rounds: int = 0
    influence: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    below_since: int | None = None


def _result(
    round_id: str, scores: list[float], authors: list[list[str]], judges: Any
) -> SwarmResult:
    best = 0 if scores[0] >= scores[1] else 1
    return SwarmResult.model_validate(
        {
            "round_id": round_id,
            "coordinator": HONEST_WRITER,
            "announce": "0x",
            "prompt_hash": "0x",
            "winner": {
                "candidate": best,
                "node": authors[best][0],
                "digest": "0x",
                "verification": "passed",
            },
            "candidates": [
                {
                    "candidate": i,
                    "node": authors[i][0],
                    "nodes": authors[i],
                    "digest": "0x",
                    "score": scores[i],
                    "stderr": 0.0,
                    "interval": [scores[i], scores[i]],
                    "answers": [],
                }
                for i in range(2)
            ],
            "decided_by": "judges",
            "judges": judges,
        }
    )


def simulate(
    pairs: list[Pair],
    calibrated: dict[str, dict[str, JudgeRecord]],
    identities: int,
    attacker_stake: int,
    rounds: int,
    honest_stake: int = ETHER,
    round_seconds: float = 60.0,
    seed: int = 0,
) -> dict[str, Any]:
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    honest = sorted({j for p in pairs for j in p.verdicts})
    attackers = [f"attacker-{i}" for i in range(identities)]
    nodes = {j: Node(honest_stake) for j in honest}
    for a in attackers:
        nodes[a] = Node(attacker_stake // identities)
    nodes[HONEST_WRITER] = Node(honest_stake)
    nodes[WEAK_WRITER] = Node(honest_stake)
    book = JudgeBook()
    out = Outcome()
    accuracy = judge_accuracy(pairs)
    best_judge = max(honest, key=accuracy.__getitem__)
    for judge in honest:
        book.calibrate(judge, calibrated.get(judge, {}))
    for a in attackers:  # the worst case: each identity passes as well as the best judge
        book.calibrate(a, calibrated.get(best_judge, {}))
    for t in range(rounds):
        now = t * round_seconds
        pair = pairs[order[t % len(pairs)]]
        round_id = f"0x{seed:04x}{t:08x}"
        for node in nodes.values():
            node.decay_to(now)
        weights = {n: draw_weight(nodes[n].stake, nodes[n].reputation) for n in nodes}
        # the worse text's writer: an attacker identity when one is drawn to answer
        writers = draw_participants(round_id + "w", [*attackers, WEAK_WRITER], 1, weights)
        worse = writers[0] if writers else WEAK_WRITER
        eligible = [*honest, *(a for a in attackers if a != worse)]  # no judge of its own text
        judges = draw_participants(round_id, eligible, JUDGES_PER_ROUND, weights)
        first, second, p_first, who = [], [], [], []
        for judge in judges:
            if judge in attackers:  # the attacker's text wins its vote; else it judges well
                got = [0.0, 0.0] if worse in attackers else pair.verdicts.get(best_judge, [])
            else:
                got = pair.verdicts.get(judge, [])
            for k, p_better in enumerate(got):  # both orders
                f, s = (0, 1) if k == 0 else (1, 0)
                first.append(f)
                second.append(s)
                p_first.append(p_better if f == 0 else 1.0 - p_better)
                who.append(judge)
        topic = topic_key("client", pair.subset)
        if not who:
            continue
        ranking = rank_round(2, first, second, p_first, who, book.records(topic), BT_PRIOR)
        scores = ranking.scores
        summaries = [
            {
                "node": j,
                "verdicts": 2,
                "reliability": ranking.reliability[j],
                "agreed": ranking.agreement[j].agreed,
                "disagreed": ranking.agreement[j].disagreed,
            }
            for j in sorted(set(who))
        ]
        result = _result(round_id, scores, [[HONEST_WRITER], [worse]], summaries)
        book.add(result.judges, topic)
        for node, points in round_points(result).items():
            nodes[node].reputation += points
        won = result.winner.candidate
        out.rounds += 1
        out.correct += won == 0
        if worse in attackers:
            out.attacker_rounds += 1
            out.attacker_wins += won == 1
        else:
            out.weak_rounds += 1
            out.weak_wins += won == 1
        for j, eta in ranking.reliability.items():
            out.influence[j] += max(0.0, 2 * eta - 1)
        if attackers:  # the colluders' mean draw weight against the honest judges'
            after = {n: draw_weight(nodes[n].stake, nodes[n].reputation) for n in nodes}
            below = sum(after[a] for a in attackers) / len(attackers) < sum(
                after[h] for h in honest
            ) / len(honest)
            out.below_since = (
                (out.below_since if out.below_since is not None else t) if below else None
            )
    total = sum(out.influence.values()) or 1.0
    weights = {n: draw_weight(nodes[n].stake, nodes[n].reputation) for n in [*honest, *attackers]}
    weak = sorted(honest, key=accuracy.__getitem__)[:2]
    return {
        "identities": identities,
        "attacker_stake_ether": attacker_stake / ETHER,
        "identity_share": identities / (identities + len(honest)),
        "rounds": out.rounds,
        "accuracy": out.correct / max(1, out.rounds),
        "attacker_win_share": out.attacker_wins / max(1, out.attacker_rounds),
        "attacker_influence": sum(out.influence[a] for a in attackers) / total,
        "attacker_draw_weight": sum(weights[a] for a in attackers) / sum(weights.values()),
        "colluders_below_after": out.below_since,
        "weak_writer_win_share": out.weak_wins / max(1, out.weak_rounds),
        "weak_judges": weak,
        "weak_judges_influence": sum(out.influence[j] for j in weak) / total,
    }


SCENARIOS = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (8, 8), (1, 4), (2, 4)]
SPLIT_STAKE = 4
"""(identities, attacker stake in ether): growing identities each paying the minimum
stake, then a fixed 4 ether split over 1, 2 and 4 identities (4 is above)."""


def table(rows: list[dict[str, Any]], rounds: int) -> str:
    lines = [
        f"Sybil attack on LLMBar's real verdicts: {rounds} rounds, 6 honest judges (1 ether "
        "each), 5 judges drawn per round; the attacker's identities always favour its own "
        "cheap answer and otherwise judge like GPT-4.",
        "",
        "| identities (share) | attacker stake | accuracy | attacker wins | attacker influence "
        "| attacker draw weight | colluders below honest after round | weak writer wins "
        "| weakest 2 judges' influence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        below = "—" if r["colluders_below_after"] is None else f"{r['colluders_below_after']:,}"
        lines.append(
            f"| {r['identities']} ({r['identity_share']:.0%}) "
            f"| {r['attacker_stake_ether']:g} ETH | {r['accuracy']:.3f} "
            f"| {r['attacker_win_share']:.3f} | {r['attacker_influence']:.3f} "
            f"| {r['attacker_draw_weight']:.3f} | {below} | {r['weak_writer_win_share']:.3f} "
            f"| {r['weak_judges_influence']:.3f} |"
        )
    base = rows[0]["accuracy"]
    thirty = sorted(
        (r for r in rows if r["identity_share"] >= 0.3), key=lambda r: r["identity_share"]
    )
    if thirty:
        drop = base - thirty[0]["accuracy"]
        verdict = "met" if drop <= 0.02 else "NOT met"
        lines += [
            "",
            f"Accuracy with {thirty[0]['identity_share']:.0%} attacker identities: "
            f"{thirty[0]['accuracy']:.3f} against {base:.3f} with none "
            f"(goal: within 2 points: {verdict}, {100 * drop:+.1f} points).",
        ]
    split_rows = {r["identities"]: r for r in rows if r["attacker_stake_ether"] == SPLIT_STAKE}
    if len(split_rows) > 1:
        one, most = split_rows[min(split_rows)], split_rows[max(split_rows)]
        gain = one["accuracy"] - most["accuracy"]
        lines.append(
            f"The same {SPLIT_STAKE:g} ether as {min(split_rows)} identity and as "
            f"{max(split_rows)}: accuracy {one['accuracy']:.3f} and {most['accuracy']:.3f}, "
            f"attacker wins {one['attacker_win_share']:.3f} and {most['attacker_win_share']:.3f} "
            f"(goal: more identities gain nothing: {'met' if gain <= 0.02 else 'NOT met'})."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="llmbar_judgments.csv")
    parser.add_argument("--rounds", type=int, default=3600, help="rounds per scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write", action="store_true", help="record in RESULTS.md")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"sybil: no data file at {args.data} (see ../shared/data/README.md)")
    bank, stream = split(load(args.data))
    calibrated = calibration(bank)
    rows = []
    for m, stake in SCENARIOS:
        print(f"scenario: {m} identities, {stake} ether", file=sys.stderr)
        rows.append(simulate(stream, calibrated, m, stake * ETHER, args.rounds, seed=args.seed))
    if args.json:
        print(json.dumps({"rounds": args.rounds, "scenarios": rows}))
        return
    from results import machine_line, write_section

    text = (
        table(rows, args.rounds)
        + "\n\n"
        + machine_line()
        + (" A pure simulation (no model runs): the figures do not depend on the machine.")
    )
    print(text)
    if args.write:
        write_section("Sybil", text)


if __name__ == "__main__":
    main()
