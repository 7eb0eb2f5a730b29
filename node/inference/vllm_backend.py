"""vLLM in this process: one `AsyncLLM` engine, shared by every node identity
in the process that serves the same model directory.

Prompts are rendered with the model's own chat template (transformers) and
passed as token ids, so a generation's prompt is exactly what was hashed and
signed. A batch of verdict prompts is rendered first and then submitted at
once, so the engine schedules them together. The engine's core runs in a child
process (vLLM's default), which is why entry points need an
`if __name__ == "__main__"` guard. The dtype is `node.inference.device`'s choice.
"""

import asyncio
import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from node.errors import BackendError
from node.inference.base import TOP_LOGPROBS, Chat, Forced, Generation, SamplingSpec
from node.inference.device import engine_kwargs
from verification.teacher_forced import TokenScore

__all__ = ["VLLMBackend"]

log = logging.getLogger(__name__)


class VLLMBackend:
    def __init__(self, engine: Any, tokenizer: Any, model_id: str, stop_ids: set[int], dtype: str):
        self._engine = engine
        self._tokenizer = tokenizer
        self.model_id = model_id
        self._stop_ids = stop_ids
        self._ids = itertools.count()
        self.dtype = dtype
        # vLLM accepts ids up to the larger of the tokenizer's and the model's vocabulary.
        self.vocab_size = max(len(tokenizer), int(engine.model_config.get_vocab_size()))

    @classmethod
    async def create(
        cls,
        model_dir: str | Path,
        model_id: str,
        max_model_len: int = 2048,
        seed: int = 0,
        dtype: str = "auto",
        warm: bool = True,
    ) -> "VLLMBackend":
        from transformers import AutoTokenizer, GenerationConfig
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        stop_ids = {int(tokenizer.eos_token_id)}
        try:
            eos = GenerationConfig.from_pretrained(str(model_dir)).eos_token_id
            stop_ids |= {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        except OSError:  # no generation_config.json
            pass
        kwargs = engine_kwargs(str(model_dir), max_model_len, seed, dtype)
        engine = AsyncLLM.from_engine_args(AsyncEngineArgs(**kwargs))
        chosen = str(engine.model_config.dtype).removeprefix("torch.")
        log.info("vLLM engine for %s computes in %s (asked: %s)", model_id, chosen, dtype)
        backend = cls(engine, tokenizer, model_id, stop_ids, chosen)
        if warm:
            # The first logprobs and prompt-logprobs requests pay a one-off warm-up
            # (seconds on CPU, measured in benchmarks/prompt_logprobs.py); pay it now.
            hello = [{"role": "user", "content": "Say 1."}]
            await backend.next_token_logprobs([[*hello, {"role": "assistant", "content": "1"}]])
            await backend.teacher_force(hello, tokenizer.encode("1"))
        return backend

    def _render(self, messages: Chat, prefill: bool) -> list[int]:
        ids = self._tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            add_generation_prompt=not prefill,
            continue_final_message=prefill,
            tokenize=True,
        )
        if hasattr(ids, "keys"):  # transformers ≥ 5 returns a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)

    async def _run(self, prompt_ids: list[int], params: Any) -> Any:
        return (await self._request(prompt_ids, params)).outputs[0]

    async def _request(self, prompt_ids: list[int], params: Any) -> Any:
        from vllm.inputs import TokensPrompt

        final = None
        try:
            async for output in self._engine.generate(
                TokensPrompt(prompt_token_ids=prompt_ids), params, f"swarm-{next(self._ids)}"
            ):
                final = output
        except Exception as exc:
            raise BackendError(f"vLLM engine failed: {exc}") from exc
        if final is None or not final.outputs:
            raise BackendError("vLLM engine returned no output")
        return final

    async def generate(self, messages: Chat, sampling: SamplingSpec) -> Generation:
        from vllm import SamplingParams

        prompt = self._render(messages, prefill=False)
        params = SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=sampling.seed,
            max_tokens=sampling.max_tokens,
        )
        out = await self._run(prompt, params)
        return Generation(out.text, list(out.token_ids), str(out.finish_reason or "stop"))

    async def next_token_logprobs(self, prompts: Sequence[Chat]) -> list[dict[str, float]]:
        from vllm import SamplingParams

        rendered = [self._render(p, prefill=True) for p in prompts]  # all before any is sent
        params = SamplingParams(temperature=0.0, max_tokens=1, logprobs=TOP_LOGPROBS)
        outs = await asyncio.gather(*(self._run(ids, params) for ids in rendered))
        return [self._top(out) for out in outs]

    def _top(self, out: Any) -> dict[str, float]:
        if not out.logprobs:
            raise BackendError("vLLM returned no logprobs")
        result: dict[str, float] = {}
        for token_id, lp in out.logprobs[0].items():
            text = self._tokenizer.decode([token_id])
            result[text] = max(result.get(text, float("-inf")), float(lp.logprob))
        return result

    async def teacher_force(self, messages: Chat, token_ids: Sequence[int]) -> Forced:
        from vllm import SamplingParams

        if any(not 0 <= t < self.vocab_size for t in token_ids):
            raise BackendError(f"token ids outside the vocabulary (0..{self.vocab_size - 1})")
        if not token_ids:
            return Forced("", [], False)
        prompt = self._render(messages, prefill=False)
        # prompt_logprobs=K: each position's own token (logprob, rank) and the top K, which
        # the sampling check reads. No detokenizing: the check reads ids and numbers only.
        final = await self._request(
            prompt + list(token_ids),
            SamplingParams(
                temperature=0.0, max_tokens=1, prompt_logprobs=TOP_LOGPROBS, detokenize=False
            ),
        )
        logprobs = final.prompt_logprobs
        if not logprobs or len(logprobs) != len(prompt) + len(token_ids):
            raise BackendError("vLLM returned no prompt logprobs")
        scores = []
        for position, token in enumerate(token_ids, start=len(prompt)):
            entry = logprobs[position]
            top = [(int(lp.rank), float(lp.logprob)) for lp in entry.values()]
            scores.append(
                TokenScore.of(
                    float(entry[token].logprob), int(entry[token].rank), top, TOP_LOGPROBS
                )
            )
        text = self._tokenizer.decode(list(token_ids), skip_special_tokens=True)
        return Forced(text, scores, token_ids[-1] in self._stop_ids, self.vocab_size)

    async def tokenize(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    async def close(self) -> None:
        self._engine.shutdown()
