"""Proof-of-capability: score distributions of the real model and of three cheats.

Every challenge of the calibration bank (`reputation.bank`) is run once per kind of
candidate, on real vLLM servers:

- `smollm2`: the real SmolLM2-135M-Instruct, its replies made in one batch;
- `layers12`: the same model cut to its first 12 of 30 layers, served under the
  real model's name (cheaper, and wrong);
- `random`: made-up log-probabilities and answers of random token ids;
- `always1`: always prefers the first answer and answers "1".

The attester is the real model in a second run with another batch order (so the
honest candidate's checks see the noise two machines would). From the per-challenge
outcomes (right or wrong, check passed or failed) the script draws `--sessions`
sessions of each size (judging + answering challenges, as an attester draws them)
and prints, per kind, the score distribution, the share of checks failed and the
pass rate under the rules of `reputation.calibration`; and the same scores with the
checks ignored, to show what the threshold alone would do.

    python benchmarks/calibration.py [--sessions 2000] [--reuse] [--json] [--write]

`--reuse` draws the sessions from the per-challenge outcomes of the last run (kept in
`--home`) instead of measuring again.
"""

import argparse
import asyncio
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.results import machine_line  # noqa: E402
from benchmarks.substitutes import remove_layers  # noqa: E402
from node.calibration import answer_question, check_answer, judging_means  # noqa: E402
from node.inference.openai_backend import OpenAIBackend  # noqa: E402
from reputation.bank import load_bank  # noqa: E402
from reputation.calibration import (  # noqa: E402
    ALLOWED_CHECK_FAILURES,
    ANSWERING,
    JUDGING,
    MAX_TOKENS,
    PASS_SCORE,
    answer_value,
    means_agree,
)
from reputation.messages import AnsweringReply, JudgingTask  # noqa: E402
from tests.conftest import vllm_server_at  # noqa: E402

MODEL = Path.home() / ".cache/swarm-node/models/smollm2-135m"
KINDS = ("smollm2", "layers12", "random", "always1")
SIZES = ((JUDGING, ANSWERING), (16, 4), (64, 8))


@dataclass
class Outcomes:
    """Per challenge: right, and check passed."""

    judging: list[tuple[bool, bool]]
    answering: list[tuple[bool, bool]]


async def _means(url: str, tasks: list[JudgingTask], reverse: bool) -> list[list[float]]:
    backend = await OpenAIBackend.create(url, "smollm2-135m")
    try:
        order = list(range(len(tasks)))[:: -1 if reverse else 1]
        got = await asyncio.gather(*(judging_means(backend, tasks[i]) for i in order))
        out: list[list[float]] = [[]] * len(tasks)
        for i, m in zip(order, got, strict=True):
            out[i] = m
        return out
    finally:
        await backend.close()


async def _answers(url: str, questions: list[str]) -> list[AnsweringReply]:
    backend = await OpenAIBackend.create(url, "smollm2-135m")
    try:
        got = await asyncio.gather(*(answer_question(backend, q, MAX_TOKENS) for q in questions))
        return [AnsweringReply(text=g.text, token_ids=g.token_ids) for g in got]
    finally:
        await backend.close()


async def _tokens(url: str, text: str) -> list[int]:
    backend = await OpenAIBackend.create(url, "smollm2-135m")
    try:
        return await backend.tokenize(text)
    finally:
        await backend.close()


async def _checks(url: str, questions: list[str], replies: list[AnsweringReply]) -> list[bool]:
    backend = await OpenAIBackend.create(url, "smollm2-135m")
    sampling = {"temperature": 0.0, "top_p": 1.0, "seed": 0, "max_tokens": MAX_TOKENS}
    try:
        pairs = zip(questions, replies, strict=True)
        got = await asyncio.gather(*(check_answer(backend, q, r, sampling) for q, r in pairs))
        return [ok for ok, _ in got]
    finally:
        await backend.close()


def measure(home: Path) -> dict[str, Outcomes]:
    bank = load_bank()
    rng = random.Random(0)
    first = [rng.random() < 0.5 for _ in bank.judging]
    tasks = [
        JudgingTask(
            instruction=c.instruction,
            first=c.better if f else c.worse,
            second=c.worse if f else c.better,
        )
        for c, f in zip(bank.judging, first, strict=True)
    ]
    questions = [c.question for c in bank.answering]
    known = [c.answer for c in bank.answering]
    replies: dict[str, tuple[list[list[float]], list[AnsweringReply]]] = {}
    cut = remove_layers(MODEL, home / "layers12", keep=12)
    for name, model in (("layers12", cut), ("smollm2", MODEL)):
        print(f"{name}: replying to {len(tasks)} + {len(questions)} challenges", file=sys.stderr)
        with vllm_server_at(model, home / f"server-{name}") as server:
            replies[name] = (
                asyncio.run(_means(server.base_url, tasks, reverse=False)),
                asyncio.run(_answers(server.base_url, questions)),
            )
            if name == "smollm2":  # the attester: the real model, another batch order
                print("attester: checking", file=sys.stderr)
                own = asyncio.run(_means(server.base_url, tasks, reverse=True))
                one = asyncio.run(_tokens(server.base_url, "1"))
                fakes = {
                    "random": (
                        [[rng.uniform(-6, 0), rng.uniform(-6, 0)] for _ in tasks],
                        [
                            AnsweringReply(
                                text="", token_ids=[rng.randrange(49152) for _ in range(20)]
                            )
                            for _ in questions
                        ],
                    ),
                    "always1": (
                        [[-1.0, -2.0] for _ in tasks],
                        [AnsweringReply(text="1", token_ids=one) for _ in questions],
                    ),
                }
                replies.update(fakes)
                checked = {
                    kind: asyncio.run(_checks(server.base_url, questions, replies[kind][1]))
                    for kind in KINDS
                    if kind in replies
                }
    return {
        kind: Outcomes(
            [
                ((m[0] > m[1]) == f, means_agree(m, o))
                for m, o, f in zip(replies[kind][0], own, first, strict=True)
            ],
            [
                (answer_value(r.text) == k, ok)
                for r, k, ok in zip(replies[kind][1], known, checked[kind], strict=True)
            ],
        )
        for kind in KINDS
    }


def sessions(out: Outcomes, judging: int, answering: int, n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    j = np.array(out.judging, dtype=bool)
    a = np.array(out.answering, dtype=bool)
    scores, raw, passed = [], [], []
    for _ in range(n):
        pj = j[rng.choice(len(j), judging, replace=False)]
        pa = a[rng.choice(len(a), answering, replace=False)]
        total = judging + answering
        right = (pj[:, 0] & pj[:, 1]).sum() + (pa[:, 0] & pa[:, 1]).sum()
        failures = total - pj[:, 1].sum() - pa[:, 1].sum()
        score = 10_000 * right / total
        scores.append(score)
        raw.append(10_000 * (pj[:, 0].sum() + pa[:, 0].sum()) / total)
        passed.append(failures <= ALLOWED_CHECK_FAILURES * total and score >= PASS_SCORE)
    q = np.percentile(scores, [1, 50, 99])
    rq = np.percentile(raw, [1, 50, 99])
    return {
        "judging": judging,
        "answering": answering,
        "score_p1_p50_p99": [round(float(x)) for x in q],
        "unchecked_p1_p50_p99": [round(float(x)) for x in rq],
        "unchecked_at_threshold": round(float(np.mean(np.array(raw) >= PASS_SCORE)), 4),
        "pass_rate": round(float(np.mean(passed)), 4),
    }


def summary(outcomes: dict[str, Outcomes], n: int) -> dict[str, Any]:
    per_item = {
        kind: {
            "judging_right": round(float(np.mean([r for r, _ in o.judging])), 3),
            "judging_checks_failed": round(float(np.mean([not c for _, c in o.judging])), 3),
            "answering_right": round(float(np.mean([r for r, _ in o.answering])), 3),
            "answering_checks_failed": round(float(np.mean([not c for _, c in o.answering])), 3),
        }
        for kind, o in outcomes.items()
    }
    dists = {
        kind: [sessions(o, j, a, n, seed=i) for i, (j, a) in enumerate(SIZES)]
        for kind, o in outcomes.items()
    }
    return {
        "threshold": PASS_SCORE,
        "sessions": n,
        "per_challenge": per_item,
        "sessions_by_size": dists,
    }


def served_dtype() -> str:
    """The dtype vLLM's server computes in here: the model config's, as no --dtype is given."""
    config = json.loads((MODEL / "config.json").read_text())
    return str(config.get("dtype") or config.get("torch_dtype") or "unknown")


def table(s: dict[str, Any]) -> str:
    lines = [
        "Per challenge, over the whole bank (the attester is the real model, another batch):",
        "",
        "| candidate | judging right | judging checks failed | answering right "
        "| answering checks failed |",
        "|---|---|---|---|---|",
    ]
    for kind, p in s["per_challenge"].items():
        lines.append(
            f"| {kind} | {p['judging_right']:.3f} | {p['judging_checks_failed']:.3f} "
            f"| {p['answering_right']:.3f} | {p['answering_checks_failed']:.3f} |"
        )
    lines += [
        "",
        f"Sessions ({s['sessions']} drawn per size; score in basis points, a failed check "
        f"counts as wrong; pass = at most {ALLOWED_CHECK_FAILURES:.0%} checks failed and "
        f"score ≥ {s['threshold']}):",
        "",
        "| candidate | judging + answering | score p1 / p50 / p99 | pass rate "
        "| checks ignored: p1 / p50 / p99 | checks ignored: ≥ threshold |",
        "|---|---|---|---|---|---|",
    ]
    for kind, rows in s["sessions_by_size"].items():
        for r in rows:
            lines.append(
                f"| {kind} | {r['judging']} + {r['answering']} "
                f"| {' / '.join(map(str, r['score_p1_p50_p99']))} | {r['pass_rate']:.3f} "
                f"| {' / '.join(map(str, r['unchecked_p1_p50_p99']))} "
                f"| {r['unchecked_at_threshold']:.3f} |"
            )
    lines += ["", machine_line(f"{served_dtype()} (vLLM's OpenAI server, both models)")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--home", type=Path, default=Path("/tmp/swarm-calibration-bench"))
    parser.add_argument("--reuse", action="store_true", help="reuse the last measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write", action="store_true", help="record in RESULTS.md")
    args = parser.parse_args()
    if not MODEL.exists():
        sys.exit(f"calibration: no model at {MODEL} (run `swarm models pull smollm2-135m`)")
    cache = args.home / "outcomes.json"
    if args.reuse and cache.exists():
        outcomes = {k: Outcomes(**v) for k, v in json.loads(cache.read_text()).items()}
    else:
        outcomes = measure(args.home)
        cache.write_text(json.dumps({k: vars(v) for k, v in outcomes.items()}))
    s = summary(outcomes, args.sessions)
    if args.json:
        print(json.dumps(s))
        return
    text = table(s)
    print(text)
    if args.write:
        from results import write_section

        write_section("Proof-of-capability", text)


if __name__ == "__main__":
    main()
