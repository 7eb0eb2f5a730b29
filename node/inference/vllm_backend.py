"""vLLM in this process: one `AsyncLLM` engine, shared by every node identity
in the process that serves the same model directory.

Prompts are rendered with the model's own chat template (transformers) and
passed as token ids, so a generation's prompt is exactly what was hashed and
signed. The engine's core runs in a child process (vLLM's default), which is
why entry points need an `if __name__ == "__main__"` guard.
"""

import itertools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from node.errors import BackendError
from node.inference.base import TOP_LOGPROBS, Generation, SamplingSpec
from node.inference.device import engine_kwargs

__all__ = ["VLLMBackend"]

log = logging.getLogger(__name__)


class VLLMBackend:
    def __init__(self, engine: Any, tokenizer: Any, model_id: str):
        self._engine = engine
        self._tokenizer = tokenizer
        self.model_id = model_id
        self._ids = itertools.count()

    @classmethod
    async def create(
        cls, model_dir: str | Path, model_id: str, max_model_len: int = 2048, seed: int = 0
    ) -> "VLLMBackend":
        from transformers import AutoTokenizer
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        args = AsyncEngineArgs(**engine_kwargs(str(model_dir), max_model_len, seed))
        engine = AsyncLLM.from_engine_args(args)
        backend = cls(engine, tokenizer, model_id)
        # The first logprobs request pays a one-off warm-up (seconds on CPU); pay it now.
        await backend.next_token_logprobs(
            [{"role": "user", "content": "Say 1."}, {"role": "assistant", "content": "1"}]
        )
        return backend

    def _render(self, messages: Sequence[Mapping[str, str]], prefill: bool) -> list[int]:
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
        return final.outputs[0]

    async def generate(
        self, messages: Sequence[Mapping[str, str]], sampling: SamplingSpec
    ) -> Generation:
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

    async def next_token_logprobs(self, messages: Sequence[Mapping[str, str]]) -> dict[str, float]:
        from vllm import SamplingParams

        prompt = self._render(messages, prefill=True)
        out = await self._run(
            prompt, SamplingParams(temperature=0.0, max_tokens=1, logprobs=TOP_LOGPROBS)
        )
        if not out.logprobs:
            raise BackendError("vLLM returned no logprobs")
        result: dict[str, float] = {}
        for token_id, lp in out.logprobs[0].items():
            text = self._tokenizer.decode([token_id])
            result[text] = max(result.get(text, float("-inf")), float(lp.logprob))
        return result

    async def close(self) -> None:
        self._engine.shutdown()
