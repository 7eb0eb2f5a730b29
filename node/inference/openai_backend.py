"""Any OpenAI-compatible server over HTTP (e.g. vLLM's own OpenAI server).

Generation asks for the answer's token ids (`return_token_ids`, a vLLM
extension); judging continues an assistant prefill (`continue_final_message`,
also vLLM's) for one token with `top_logprobs`. The teacher-forced check uses
vLLM's `/tokenize` (the chat prompt as ids), `/v1/completions` with the ids and
`prompt_logprobs=1`, and `/detokenize`. A server that lacks these is refused
with a clear `BackendError` rather than used half-way.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from node.errors import BackendError
from node.inference.base import TOP_LOGPROBS, Forced, Generation, SamplingSpec
from verification.teacher_forced import TokenScore

__all__ = ["OpenAIBackend"]


class OpenAIBackend:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, model_id: str, served: str):
        self._session = session
        self._base = base_url.rstrip("/")
        self._root = self._base.removesuffix("/v1")
        self.model_id = model_id
        self._served = served

    @classmethod
    async def create(
        cls, base_url: str, served_name: str = "", api_key: str = "", timeout: float = 300.0
    ) -> "OpenAIBackend":
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        session = aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        )
        try:
            served = served_name
            if not served:
                models = await cls._get(session, base_url.rstrip("/") + "/models")
                served = str(models["data"][0]["id"])
        except BaseException:
            await session.close()
            raise
        return cls(session, base_url, served_name or served, served)

    @staticmethod
    async def _get(session: aiohttp.ClientSession, url: str) -> Any:
        try:
            async with session.get(url) as resp:
                if resp.status != 200:
                    raise BackendError(f"GET {url}: HTTP {resp.status}")
                return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(f"GET {url}: {exc!r}") from exc

    async def _post(self, url: str, body: dict[str, Any]) -> Any:
        try:
            async with self._session.post(url, json={"model": self._served, **body}) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    raise BackendError(f"{url}: HTTP {resp.status}: {str(data)[:300]}")
                return data
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BackendError(f"{url}: {exc!r}") from exc

    async def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        data = await self._post(self._base + "/chat/completions", body)
        try:
            choice: dict[str, Any] = data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"chat completion without a choice: {exc!r}") from exc
        return choice

    async def generate(
        self, messages: Sequence[Mapping[str, str]], sampling: SamplingSpec
    ) -> Generation:
        choice = await self._chat(
            {
                "messages": [dict(m) for m in messages],
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "seed": sampling.seed,
                "max_tokens": sampling.max_tokens,
                "return_token_ids": True,
            }
        )
        token_ids = choice.get("token_ids")
        if not isinstance(token_ids, list):
            raise BackendError("the server does not return token ids (needs return_token_ids)")
        text = choice["message"].get("content") or ""
        return Generation(text, [int(t) for t in token_ids], str(choice.get("finish_reason")))

    async def next_token_logprobs(self, messages: Sequence[Mapping[str, str]]) -> dict[str, float]:
        choice = await self._chat(
            {
                "messages": [dict(m) for m in messages],
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": TOP_LOGPROBS,
                "add_generation_prompt": False,
                "continue_final_message": True,
            }
        )
        try:
            top = choice["logprobs"]["content"][0]["top_logprobs"]
            return {str(e["token"]): float(e["logprob"]) for e in top}
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError("the server returned no top logprobs for the verdict") from exc

    async def _detokenize(self, token_ids: Sequence[int]) -> str:
        data = await self._post(self._root + "/detokenize", {"tokens": list(token_ids)})
        return str(data.get("prompt", ""))

    async def teacher_force(
        self, messages: Sequence[Mapping[str, str]], token_ids: Sequence[int]
    ) -> Forced:
        if not token_ids:
            return Forced("", [], False)
        rendered = await self._post(
            self._root + "/tokenize",
            {"messages": [dict(m) for m in messages], "add_generation_prompt": True},
        )
        prompt = [int(t) for t in rendered["tokens"]]
        data = await self._post(
            self._base + "/completions",
            {
                "prompt": prompt + list(token_ids),
                "max_tokens": 1,
                "temperature": 0.0,
                "prompt_logprobs": 1,
            },
        )
        try:
            logprobs = data["choices"][0]["prompt_logprobs"]
            scores = []
            for position, token in enumerate(token_ids, start=len(prompt)):
                entry = logprobs[position]
                own = entry[str(token)]
                top = max(float(e["logprob"]) for e in entry.values())
                scores.append(TokenScore(float(own["logprob"]), int(own["rank"]), top))
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError("the server returned no prompt logprobs (needs vLLM)") from exc
        text = await self._detokenize(token_ids)
        # A special token (end of sequence) detokenizes to nothing on its own.
        stopped = await self._detokenize(token_ids[-1:]) == ""
        return Forced(text, scores, stopped)

    async def close(self) -> None:
        await self._session.close()
