"""STAND-IN for the inference engine: a scripted backend, for round tests without vLLM.

Named as such (CONVENTIONS.md): it exists for protocol branches a real engine
cannot be made to take on demand (a judge failing mid-round, every candidate
failing verification, a verifier refusing, a copy winning). Everything around it
is real: keys, signatures, HTTP on loopback, the consensus log, the round code.

The "model" (`ScriptedModel`) is shared by a swarm's scripted backends and is
consistent the way a real model is:

- tokens are UTF-8 bytes (ids 0..255) and `EOS` (256): ids decode to their text;
- what it "generates" for a prompt and sampling is recorded the first time an
  honest node generates it, so re-execution with the same sampling reproduces it
  and other sampling gives another text;
- its teacher-forced check knows the texts honest nodes generated (every token
  at the argmax) and puts any other text `FAR` nats below the argmax.

A backend generates its own `text` (a string or a function of the prompt);
`honest=False` makes it a node whose texts the model never produced (a
fabrication or a copy). Its judge reads each pair with `prefers(first, second)`
→ P(first is better), `mass` the verdict tokens' probability (0: unreadable).
`fail_judging` makes judging raise, `verify_delay` makes its checks slow.
"""

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from node.errors import BackendError
from node.inference.base import Chat, Forced, Generation, SamplingSpec
from reputation.envelope import digest
from verification.teacher_forced import TokenScore

__all__ = ["EOS", "FAR", "ScriptedBackend", "ScriptedModel", "decode", "encode", "prefer"]

EOS = 256
FAR = 50.0
MODEL_ID = "scripted-lm"


def encode(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def decode(ids: Sequence[int]) -> str:
    return bytes(t for t in ids if t < 256).decode("utf-8", errors="replace")


def prefer(marker: str) -> Callable[[str, str], float]:
    """A judge that prefers the answer containing `marker` (0.5 when neither or both)."""

    def judge(first: str, second: str) -> float:
        a, b = marker in first, marker in second
        return 0.5 if a == b else (0.9 if a else 0.1)

    return judge


@dataclass
class ScriptedModel:
    outputs: dict[tuple[str, SamplingSpec], str] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)


def _pair(prompt: Chat) -> tuple[str, str]:
    body = prompt[0]["content"]
    first = body.split("### Answer 1\n", 1)[1].split("\n\n### Answer 2\n", 1)[0]
    second = body.split("\n\n### Answer 2\n", 1)[1].rsplit("\n\nWhich answer is better", 1)[0]
    return first, second


@dataclass
class ScriptedBackend:
    model: ScriptedModel
    text: str | Callable[[Chat], str]
    honest: bool = True
    prefers: Callable[[str, str], float] = lambda first, second: 0.5
    mass: float = 0.9
    fail_judging: bool = False
    verify_delay: float = 0.0
    model_id: str = MODEL_ID
    vocab_size: int = EOS + 1
    dtype: str = "scripted"
    judge_batches: list[int] = field(default_factory=list)

    async def generate(self, messages: Chat, sampling: SamplingSpec) -> Generation:
        key = (digest([dict(m) for m in messages]), sampling)
        text = self.model.outputs.get(key)
        if text is None:
            text = self.text(messages) if callable(self.text) else self.text
            if self.honest:
                self.model.outputs[key] = text
                self.model.known.add(text)
        return Generation(text, [*encode(text), EOS], "stop")

    async def next_token_logprobs(self, prompts: Sequence[Chat]) -> list[dict[str, float]]:
        self.judge_batches.append(len(prompts))
        if self.fail_judging:
            raise BackendError("scripted judge failure")
        out = []
        for prompt in prompts:
            if self.mass == 0.0:
                out.append({"maybe": -0.1})  # neither verdict token: unreadable
                continue
            p = min(max(self.prefers(*_pair(prompt)), 1e-6), 1 - 1e-6)
            out.append({"1": math.log(p * self.mass), "2": math.log((1 - p) * self.mass)})
        return out

    async def teacher_force(self, messages: Chat, token_ids: Sequence[int]) -> Forced:
        if self.verify_delay:
            await asyncio.sleep(self.verify_delay)
        text = decode(token_ids)
        gap = 0.0 if text in self.model.known else FAR
        scores = [TokenScore(-gap, 1 if gap == 0 else 9, 0.0) for _ in token_ids]
        return Forced(text, scores, bool(token_ids) and token_ids[-1] == EOS)

    async def tokenize(self, text: str) -> list[int]:
        return encode(text)

    async def close(self) -> None:
        return None
