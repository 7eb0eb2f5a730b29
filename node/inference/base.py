"""The one interface both inference backends implement (and the tests' scripted one)."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from verification.teacher_forced import Forced

__all__ = ["TOP_LOGPROBS", "Backend", "Chat", "Forced", "Generation", "SamplingSpec"]

# How many next-token alternatives a judging call asks for (vLLM's default cap).
TOP_LOGPROBS = 20

Chat = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class SamplingSpec:
    """Everything needed to reproduce a sampled answer with the same model."""

    temperature: float
    top_p: float
    seed: int
    max_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, signed: Mapping[str, Any]) -> "SamplingSpec":
        """The spec from its signed form (`as_dict`)."""
        return cls(
            float(signed["temperature"]),
            float(signed["top_p"]),
            int(signed["seed"]),
            int(signed["max_tokens"]),
        )


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: list[int]
    finish_reason: str


class Backend(Protocol):
    model_id: str
    """The model id this backend serves (goes into signed answers)."""
    vocab_size: int
    """Token ids run from 0 to vocab_size − 1; an answer claiming others is impossible."""
    dtype: str
    """The precision the model computes in (`float32`, `bfloat16`…; `unknown` when a
    server elsewhere decides)."""

    async def generate(self, messages: Chat, sampling: SamplingSpec) -> Generation:
        """A chat completion of `messages` with its token ids."""
        ...

    async def next_token_logprobs(self, prompts: Sequence[Chat]) -> list[dict[str, float]]:
        """For each prompt, whose last message is an assistant prefill to be continued,
        the top next-token log-probabilities (one forward pass each; keys are token
        texts). The prompts go to the engine together, as one batch."""
        ...

    async def teacher_force(self, messages: Chat, token_ids: Sequence[int]) -> Forced:
        """One prefill of `messages` (with the generation prompt) followed by `token_ids`:
        each claimed token's log-probability and rank and the top `TOP_LOGPROBS`
        log-probabilities at its position, the tokens' decoded text, whether they end with
        an end-of-sequence token, and the vocabulary size. Asks only for what the check
        reads (`prompt_logprobs=TOP_LOGPROBS`, no detokenized alternatives)."""
        ...

    async def tokenize(self, text: str) -> list[int]:
        """The token ids of a plain text (no chat template, no special tokens)."""
        ...

    async def close(self) -> None: ...
