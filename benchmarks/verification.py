"""Verification: detection and false-positive rates per scenario and method, and cost.

The real SmolLM2-135M-Instruct through vLLM (in process, one engine at a time)
answers prompts from ../shared/data/llmbar_pairs.jsonl (distinct instructions
of at most 2,000 characters). Claims are made by honest and dishonest nodes;
the verifier is the bf16 model, and every claim is checked by

- `teacher_forced` (one prefill of the claimed token ids),
- `reexecution` (regenerate with the claimed sampling, compare LSH signatures),
- `copy` (the LSH index of earlier answers: copies and replays).

Scenarios (every claim declares model SmolLM2 and the plain prompt):

| scenario | made by |
|---|---|
| honest greedy | bf16, temperature 0 |
| honest sampled | bf16, T 0.7, top_p 0.95, declared seed |
| honest sampled, T 1 | bf16, T 1.0, top_p 1.0 (no nucleus), declared seed |
| other precision | float32 engine, greedy (must pass: same weights, only rounding differs) |
| layers removed | the first 24 of 30 layers, greedy and sampled |
| perturbed weights | noise σ = 5% of each matrix's std, greedy |
| unrelated model | the instruction's first LLMBar output (written by other LLMs), SmolLM2 tokens |
| altered system prompt | bf16 greedy with a system prompt the announcement did not have |
| word changed / truncated / appended | an honest greedy answer, edited and re-tokenized |
| copied | another node's sampled answer to the prompt, claimed with the copier's own seed |
| replayed | the node's own answer to the previous prompt |

The copy index holds, as earlier rounds, every prompt's answer by another node
(sampled) and by the claimant (greedy). Generations are cached in the work
directory, so a rerun only re-verifies.

    python benchmarks/verification.py [--prompts 500] [--max-tokens 64] [--write]
"""

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from results import machine_line, write_section
from substitutes import perturb, remove_layers

from node.inference.base import Generation, SamplingSpec
from node.inference.store import resolve_model
from node.inference.vllm_backend import VLLMBackend
from reputation.envelope import digest
from verification.base import Claim, VerificationResult
from verification.copies import CopyVerifier, indexed
from verification.index import CopyIndex
from verification.policy import accept
from verification.reexecution import ReexecutionVerifier
from verification.signatures import encode_signature, signature
from verification.teacher_forced import SHAPE_FAILURE, TeacherForcedVerifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "llmbar_pairs.jsonl"
WORK = Path.home() / ".cache" / "swarm-node" / "bench-verification"
MODEL = "smollm2-135m"
SYSTEM = "You are a pirate. Answer every question in the voice of a pirate."
SAMPLED = {"temperature": 0.7, "top_p": 0.95}
HONEST = ("honest greedy", "honest sampled", "honest sampled, T 1", "other precision")
HOT = {"temperature": 1.0, "top_p": 1.0}
METHODS = ("teacher_forced", "reexecution", "copy")
COST_SAMPLE = 20
ENGINE_CONCURRENCY = 64


def load_prompts(n: int) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for line in DATA.read_text().splitlines():
        row = json.loads(line)
        if len(row["input"]) <= 2000 and row["input"] not in seen:
            seen[row["input"]] = row["output_1"]
    if len(seen) < n:
        raise SystemExit(f"only {len(seen)} distinct instructions; asked for {n}")
    return list(seen.items())[:n]


def user(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def greedy(max_tokens: int) -> SamplingSpec:
    return SamplingSpec(0.0, 1.0, 0, max_tokens)


def sampled(seed: int, max_tokens: int, params: dict[str, float] = SAMPLED) -> SamplingSpec:
    return SamplingSpec(params["temperature"], params["top_p"], seed, max_tokens)


async def gather_limited(jobs: list[Callable[[], Any]], label: str) -> list[Any]:
    gate = asyncio.Semaphore(ENGINE_CONCURRENCY)
    done = 0

    async def one(job: Callable[[], Any]) -> Any:
        nonlocal done
        async with gate:
            out = await job()
        done += 1
        if done % 100 == 0 or done == len(jobs):
            print(f"  {label}: {done}/{len(jobs)}", flush=True)
        return out

    return await asyncio.gather(*(one(j) for j in jobs))


async def generate_set(
    backend: VLLMBackend,
    conversations: list[list[dict[str, str]]],
    specs: list[SamplingSpec],
    label: str,
) -> list[dict[str, Any]]:
    gens: list[Generation] = await gather_limited(
        [
            lambda c=c, s=s: backend.generate(c, s)
            for c, s in zip(conversations, specs, strict=True)
        ],
        label,
    )
    return [
        {"text": g.text, "token_ids": g.token_ids, "sampling": s.as_dict()}
        for g, s in zip(gens, specs, strict=True)
    ]


def cached(work: Path, name: str) -> list[dict[str, Any]] | None:
    path = work / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def store(work: Path, name: str, rows: list[dict[str, Any]]) -> None:
    (work / f"{name}.json").write_text(json.dumps(rows))


async def substitute_phase(
    work: Path,
    name: str,
    model_dir: Path,
    dtype: str,
    prompts: list[str],
    max_tokens: int,
    with_sampled: bool,
) -> None:
    wanted = [f"{name}-greedy"] + ([f"{name}-sampled"] if with_sampled else [])
    if all(cached(work, w) is not None for w in wanted):
        return
    print(f"{name}: starting an engine on {model_dir.name} ({dtype})", flush=True)
    backend = await VLLMBackend.create(model_dir, MODEL, dtype=dtype)
    try:
        convs = [user(p) for p in prompts]
        store(
            work,
            f"{name}-greedy",
            await generate_set(backend, convs, [greedy(max_tokens)] * len(convs), name),
        )
        if with_sampled:
            specs = [sampled(1000 + i, max_tokens) for i in range(len(convs))]
            store(work, f"{name}-sampled", await generate_set(backend, convs, specs, name))
    finally:
        await backend.close()


def edit(text: str, how: str, rng: random.Random) -> str | None:
    words = list(re.finditer(r"[A-Za-z]{4,}", text))
    if how == "word changed":
        if not words:
            return None
        w = rng.choice(words[len(words) // 4 :] or words)
        swap = rng.choice(["banana", "never", "purple", "seventeen", "moon", "quickly"])
        return text[: w.start()] + swap + text[w.end() :]
    if how == "truncated":
        cut = len(text) // 2
        return text[:cut].rstrip() if cut > 10 else None
    return text.rstrip() + " Also, remember that the moon is made of cheese."


def tokens_for(backend: VLLMBackend, text: str, stop: bool) -> list[int]:
    ids = list(backend._tokenizer.encode(text, add_special_tokens=False))
    return [*ids, backend._tokenizer.eos_token_id] if stop else ids


async def run(n: int, max_tokens: int, work: Path) -> dict[str, Any]:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
    work.mkdir(parents=True, exist_ok=True)
    pairs = load_prompts(n)
    prompts = [p for p, _ in pairs]
    base = resolve_model(MODEL)
    await substitute_phase(work, "fp32", base, "float32", prompts, max_tokens, False)
    layers = remove_layers(base, work / "models" / "layers24", keep=24)
    await substitute_phase(work, "layers", layers, "bfloat16", prompts, max_tokens, True)
    noisy = perturb(base, work / "models" / "perturbed5", scale=0.05)
    await substitute_phase(work, "perturbed", noisy, "bfloat16", prompts, max_tokens, False)

    print("verifier: starting the bf16 engine", flush=True)
    backend = await VLLMBackend.create(base, MODEL, dtype="bfloat16")
    try:
        return await verify_all(backend, pairs, max_tokens, work)
    finally:
        await backend.close()


async def verify_all(
    backend: VLLMBackend, pairs: list[tuple[str, str]], max_tokens: int, work: Path
) -> dict[str, Any]:
    prompts = [p for p, _ in pairs]
    convs = [user(p) for p in prompts]
    n = len(prompts)
    for name, conv, specs in [
        ("honest-greedy", convs, [greedy(max_tokens)] * n),
        ("honest-sampled", convs, [sampled(1000 + i, max_tokens) for i in range(n)]),
        ("other-node-sampled", convs, [sampled(5000 + i, max_tokens) for i in range(n)]),
        (
            "honest-hot",
            convs,
            [sampled(2000 + i, max_tokens, HOT) for i in range(n)],
        ),
        (
            "system-greedy",
            [[{"role": "system", "content": SYSTEM}, *c] for c in convs],
            [greedy(max_tokens)] * n,
        ),
    ]:
        if cached(work, name) is None:
            store(work, name, await generate_set(backend, conv, specs, name))
    sets = {
        name: cached(work, name)
        for name in (
            "honest-greedy",
            "honest-sampled",
            "honest-hot",
            "other-node-sampled",
            "system-greedy",
            "fp32-greedy",
            "layers-greedy",
            "layers-sampled",
            "perturbed-greedy",
        )
    }
    eos = backend._tokenizer.eos_token_id
    hashes = [digest(c) for c in convs]
    rng = random.Random(0)

    def claim(scenario: str, i: int, node: str, row: dict[str, Any]) -> Claim:
        text = row["text"]
        return Claim(
            key=f"{scenario}:{i}",
            node=node,
            round_id=f"new-{i}",
            prompt_hash=hashes[i],
            messages=convs[i],
            text=text,
            token_ids=row["token_ids"],
            model=MODEL,
            sampling=row["sampling"],
            signature=encode_signature(signature(text)),
        )

    claims: dict[str, list[Claim]] = {
        s: []
        for s in (
            "honest greedy",
            "honest sampled",
            "honest sampled, T 1",
            "other precision",
            "layers removed (greedy)",
            "layers removed (sampled)",
            "perturbed weights",
            "unrelated model (greedy)",
            "unrelated model (sampled)",
            "altered system prompt",
            "word changed",
            "truncated",
            "appended",
            "copied",
            "replayed",
        )
    }
    direct = {
        "honest greedy": ("honest-greedy", "B"),
        "honest sampled": ("honest-sampled", "B"),
        "honest sampled, T 1": ("honest-hot", "B"),
        "other precision": ("fp32-greedy", "D"),
        "layers removed (greedy)": ("layers-greedy", "C"),
        "layers removed (sampled)": ("layers-sampled", "C"),
        "perturbed weights": ("perturbed-greedy", "C"),
        "altered system prompt": ("system-greedy", "C"),
    }
    for i in range(n):
        for scenario, (name, node) in direct.items():
            claims[scenario].append(claim(scenario, i, node, sets[name][i]))
        honest = sets["honest-greedy"][i]
        stopped = bool(honest["token_ids"]) and honest["token_ids"][-1] == eos
        for how in ("word changed", "truncated", "appended"):
            text = edit(honest["text"], how, rng)
            if text is None:
                continue
            ids = tokens_for(backend, text, stopped)
            claims[how].append(claim(how, i, "C", {**honest, "text": text, "token_ids": ids}))
        other = list(backend._tokenizer.encode(pairs[i][1], add_special_tokens=False))
        ids = other[:max_tokens] if len(other) >= max_tokens else [*other, eos]
        unrelated = {
            "text": backend._tokenizer.decode(ids, skip_special_tokens=True),
            "token_ids": ids,
        }
        claims["unrelated model (greedy)"].append(
            claim("unrelated model (greedy)", i, "C", {**unrelated, "sampling": honest["sampling"]})
        )
        claims["unrelated model (sampled)"].append(
            claim(
                "unrelated model (sampled)",
                i,
                "C",
                {**unrelated, "sampling": sampled(1000 + i, max_tokens).as_dict()},
            )
        )
        copied = sets["other-node-sampled"][i]
        claims["copied"].append(
            claim("copied", i, "C", {**copied, "sampling": sampled(9000 + i, max_tokens).as_dict()})
        )
        if i > 0:
            claims["replayed"].append(claim("replayed", i, "B", sets["honest-greedy"][i - 1]))

    index = CopyIndex()
    earlier = []
    for i in range(n):
        for node, name in (("A", "other-node-sampled"), ("B", "honest-greedy")):
            row = sets[name][i]
            earlier.append(
                indexed(
                    Claim(
                        key=f"{node}:{i}",
                        node=node,
                        round_id=f"old-{node}-{i}",
                        prompt_hash=hashes[i],
                        messages=convs[i],
                        text=row["text"],
                        token_ids=row["token_ids"],
                        model=MODEL,
                        sampling=row["sampling"],
                        signature=encode_signature(signature(row["text"])),
                    )
                )
            )
    index.rebuild(earlier)

    regen_file = work / "regenerated.json"
    regenerated: dict[str, str] = json.loads(regen_file.read_text()) if regen_file.exists() else {}

    async def regenerate(c: Claim) -> str:
        i = int(c.round_id.split("-")[1])
        s = c.sampling
        key = f"{i}:{float(s['temperature'])}:{int(s['seed']) if s['temperature'] else 0}"
        if key not in regenerated:
            spec = SamplingSpec.of(s)
            regenerated[key] = (await backend.generate(c.messages, spec)).text
        return regenerated[key]

    verifiers = {
        "teacher_forced": TeacherForcedVerifier(backend.teacher_force),
        "reexecution": ReexecutionVerifier(regenerate),
        "copy": CopyVerifier(index),
    }
    results: dict[str, dict[str, list[VerificationResult]]] = {}
    timings: dict[str, float] = {}
    for method, verifier in verifiers.items():
        t0 = time.perf_counter()
        for scenario, items in claims.items():
            results.setdefault(scenario, {})[method] = await gather_limited(
                [lambda c=c, v=verifier: v.verify(c) for c in items], f"{method} / {scenario}"
            )
        timings[method] = time.perf_counter() - t0
    regen_file.write_text(json.dumps(regenerated))
    (work / "results.json").write_text(
        json.dumps(
            {s: {m: [r.as_dict() for r in rs] for m, rs in by.items()} for s, by in results.items()}
        )
    )
    honest_texts = [row["text"] for row in sets["honest-greedy"]]
    differs = {
        s: [c.text != honest_texts[int(c.round_id.split("-")[1])] for c in items]
        for s, items in claims.items()
    }
    temperatures = {
        s: [float(c.sampling["temperature"]) for c in items] for s, items in claims.items()
    }
    cost = await measure_cost(backend, convs[:COST_SAMPLE], max_tokens)
    return {
        "results": results,
        "differs": differs,
        "temperatures": temperatures,
        "cost": cost,
        "n": n,
        "max_tokens": max_tokens,
    }


async def measure_cost(
    backend: VLLMBackend, convs: list[list[dict[str, str]]], max_tokens: int
) -> dict[str, float]:
    """Sequential, one request at a time: generation, teacher-forced check, re-execution."""
    gen, tf, re_ = [], [], []
    tokens = 0
    for conv in convs:
        t0 = time.perf_counter()
        g = await backend.generate(conv, greedy(max_tokens))
        gen.append(time.perf_counter() - t0)
        tokens += len(g.token_ids)
        t0 = time.perf_counter()
        await backend.teacher_force(conv, g.token_ids)
        tf.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await backend.generate(conv, greedy(max_tokens))
        re_.append(time.perf_counter() - t0)
    return {
        "generation_s": statistics.mean(gen),
        "teacher_forced_s": statistics.mean(tf),
        "reexecution_s": statistics.mean(re_),
        "tokens": tokens / len(convs),
    }


def protocol(results: dict[str, list[VerificationResult]], i: int, temperature: float) -> bool:
    """What a round decides on one claim (`verification.policy.accept`): the teacher-forced
    check on every claim, re-execution on sampled ones, the copy flag from the index."""
    methods = ("teacher_forced", "reexecution") if temperature > 0 else ("teacher_forced",)
    return accept(
        {m: results[m][i].as_dict() for m in methods},
        temperature,
        not results["copy"][i].passed,
    )


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['n']} prompts from LLMBar, max_tokens {report['max_tokens']}, SmolLM2-135M "
        "bf16 as the verifier. For an honest scenario the cells are false-positive rates "
        "(rejected); for a dishonest one, detection rates (rejected).",
        "",
        "| scenario | claims | differ from honest greedy | teacher-forced | re-execution | "
        "copy index | node | node, on claims that differ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scenario, by_method in report["results"].items():
        count = len(by_method["teacher_forced"])
        if not count:
            continue
        differs = report["differs"][scenario]
        rates = [sum(not r.passed for r in by_method[m]) / count for m in METHODS]
        temperatures = report["temperatures"][scenario]
        node = [not protocol(by_method, i, temperatures[i]) for i in range(count)]
        kind = "FP" if scenario in HONEST else "det"
        cells = " | ".join(f"{kind} {x:.3f}" for x in [*rates, sum(node) / count])
        on_diff = [caught for caught, d in zip(node, differs, strict=True) if d]
        tail = f"{sum(on_diff) / len(on_diff):.3f}" if on_diff and kind == "det" else "–"
        lines.append(f"| {scenario} | {count} | {sum(differs)} | {cells} | {tail} |")
    lines += [
        "",
        "node = what a round decides (`verification.policy.accept`): the teacher-forced "
        "check on every claim; on sampled claims also re-execution with the declared seed, "
        "whose disagreement rejects only a flagged copy or tokens further from the argmax "
        "than honest samples at the declared temperature go (`verification.sampling`).",
    ]
    c = report["cost"]
    lines += [
        "",
        f"Cost, one request at a time, mean of {COST_SAMPLE} greedy answers of "
        f"{c['tokens']:.0f} tokens on average (same run):",
        "",
        "| | seconds | ratio to generation |",
        "|---|---|---|",
        f"| generating the answer | {c['generation_s']:.3f} | 1 |",
        f"| teacher-forced check | {c['teacher_forced_s']:.3f} | "
        f"{c['teacher_forced_s'] / c['generation_s']:.3f} |",
        f"| re-execution | {c['reexecution_s']:.3f} | "
        f"{c['reexecution_s'] / c['generation_s']:.3f} |",
        "| copy index lookup | < 0.001 | ~0 |",
    ]
    return "\n".join(lines)


def distributions(report: dict[str, Any]) -> str:
    lines = [
        "| scenario | TF score quantiles 0/1/5/50% | RE score quantiles 0/1/5/50% |",
        "|---|---|---|",
    ]
    for scenario, by_method in report["results"].items():
        cells = []
        for method in ("teacher_forced", "reexecution"):
            xs = sorted(r.score for r in by_method[method])
            if not xs:
                cells.append("n/a")
                continue
            q = [xs[min(len(xs) - 1, int(p * len(xs)))] for p in (0, 0.01, 0.05, 0.5)]
            cells.append(" / ".join("shape" if x <= SHAPE_FAILURE else f"{x:.2f}" for x in q))
        lines.append(f"| {scenario} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--work", type=Path, default=WORK, help="Cache of generations.")
    parser.add_argument("--write", action="store_true", help="Record in benchmarks/RESULTS.md.")
    args = parser.parse_args()
    report = asyncio.run(run(args.prompts, args.max_tokens, args.work))
    body = table(report) + "\n\nScore distributions:\n\n" + distributions(report)
    body = machine_line("bfloat16 (the verifier and the honest nodes)") + "\n\n" + body
    print(body)
    if args.write:
        write_section("Verification", body)


if __name__ == "__main__":
    main()
