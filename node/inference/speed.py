"""How fast this node's engine is, measured once at start.

The round's timeouts scale with it (`node.round.timeouts`): a slow CPU gets
longer timeouts instead of failing rounds that are going normally. Two figures,
each from one timed request through the backend interface, after the backend's
own warm-up:

- `seconds_per_token`: one greedy generation of up to `PROBE_TOKENS` tokens,
  divided by the tokens it produced (decoding, plus its short prompt's prefill);
- `seconds_per_char`: one verdict prefill of a typical judge prompt (two answers
  of a few hundred characters), divided by the prompt's characters (prefill
  cost grows with the prompt; characters are what a coordinator knows of a
  prompt without a tokenizer).
"""

import time
from dataclasses import dataclass

from node.inference.base import Backend, SamplingSpec
from ranking.judging import judge_messages

__all__ = ["PROBE_TOKENS", "Speed", "measure_speed"]

PROBE_TOKENS = 32
_QUESTION = [{"role": "user", "content": "Name the planets of the solar system, one per line."}]
_ANSWER = (
    "The planets, from the Sun outwards, are Mercury, Venus, Earth, Mars, Jupiter, "
    "Saturn, Uranus and Neptune. The first four are rocky; the last four are giants "
    "made mostly of gas and ice, and each of them has rings and many moons. "
)


@dataclass(frozen=True)
class Speed:
    seconds_per_token: float
    """Generation time per answer token."""
    seconds_per_char: float
    """Prefill time per prompt character."""

    def as_dict(self) -> dict[str, float]:
        return {
            "seconds_per_token": round(self.seconds_per_token, 6),
            "seconds_per_char": round(self.seconds_per_char, 8),
        }


async def measure_speed(backend: Backend) -> Speed:
    """Time one generation and one verdict prefill on `backend`."""
    t0 = time.perf_counter()
    answer = await backend.generate(_QUESTION, SamplingSpec(0.0, 1.0, 0, PROBE_TOKENS))
    per_token = (time.perf_counter() - t0) / max(1, len(answer.token_ids))
    prompt = judge_messages(_QUESTION, _ANSWER * 2, _ANSWER[::-1] * 2)
    t0 = time.perf_counter()
    await backend.next_token_logprobs([prompt])
    per_char = (time.perf_counter() - t0) / sum(len(m["content"]) for m in prompt)
    return Speed(per_token, per_char)
