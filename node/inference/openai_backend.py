"""Any OpenAI-compatible server over HTTP (e.g. vLLM's own OpenAI server).

Generation asks for the answer's token ids (`return_token_ids`, a vLLM
extension). Judging renders each verdict prompt, an assistant prefill to be
continued, with vLLM's `/tokenize` (`continue_final_message`), then sends all of
a judge's prompts in one `/v1/completions` request (a list of token-id prompts,
one token each with `logprobs`), so the server schedules them as one batch. The
teacher-forced check uses `/tokenize` (the chat prompt as ids), `/v1/completions`
with the ids and `prompt_logprobs=20`, and `/detokenize`. A server that lacks
these is refused with a clear `BackendError` rather than used half-way.

vLLM's `/detokenize` keeps special tokens (`<|im_end|>` reads as itself), while a
generation's text skips them. So the end-of-turn token is found at start from
the chat template: `/tokenize` of a conversation whose assistant turn is closed,
against the same turn left open (`continue_final_message`); the first token the
template adds after the assistant's content is the one a chat generation stops
on. A claim's tokens that end with it are "stopped", and its text is read from
the tokens before it. (A token that detokenizes to nothing on its own also
counts as a stop: older servers skip special tokens there.)

The vocabulary size, which the coordinator checks answers' token ids against,
is found at start by asking the server to read one-token prompts: vLLM refuses
an id outside its vocabulary with a 400 before any work, so a doubling search
and a bisection (about 35 tiny requests) find the first id it refuses. The
server's dtype is its own business: `dtype` is `unknown`.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp

from node.errors import BackendError
from node.inference.base import TOP_LOGPROBS, Chat, Forced, Generation, SamplingSpec
from verification.teacher_forced import TokenScore

__all__ = ["OpenAIBackend"]


MAX_VOCAB = 1 << 24
KEEPALIVE = 4.0
"""Seconds an idle connection to the server is kept (uvicorn, vLLM's server, closes
them after 5)."""


class OpenAIBackend:
    dtype = "unknown"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, model_id: str, served: str):
        self._session = session
        self._base = base_url.rstrip("/")
        self._root = self._base.removesuffix("/v1")
        self.model_id = model_id
        self._served = served
        self.vocab_size = 0
        self.stop_ids: frozenset[int] = frozenset()

    @classmethod
    async def create(
        cls, base_url: str, served_name: str = "", api_key: str = "", timeout: float = 300.0
    ) -> "OpenAIBackend":
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            # below uvicorn's 5 s, so an idle connection is dropped here before the server
            # closes it under a request
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE),
        )
        try:
            served = served_name
            if not served:
                models = await cls._get(session, base_url.rstrip("/") + "/models")
                served = str(models["data"][0]["id"])
            backend = cls(session, base_url, served_name or served, served)
            backend.vocab_size = await backend._find_vocab_size()
            backend.stop_ids = await backend._find_stop_ids()
        except BaseException:
            await session.close()
            raise
        return backend

    async def _accepts(self, token_id: int) -> bool:
        """Whether the server reads a one-token prompt of `token_id` (400: out of vocab)."""
        body = {"model": self._served, "prompt": [token_id], "max_tokens": 1, "temperature": 0}
        try:
            async with self._session.post(self._base + "/completions", json=body) as resp:
                if resp.status == 400:
                    return False
                if resp.status != 200:
                    raise BackendError(f"probing the vocabulary: HTTP {resp.status}")
                return True
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(f"probing the vocabulary: {exc!r}") from exc

    async def _find_vocab_size(self) -> int:
        if not await self._accepts(0):
            raise BackendError("the server refuses token id 0: it does not read token prompts")
        low, high = 0, 1  # low is accepted; find a refused high
        while await self._accepts(high):
            low, high = high, high * 2
            if high > MAX_VOCAB:
                raise BackendError("the server accepts any token id: cannot find its vocabulary")
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if await self._accepts(middle) else (low, middle)
        return high

    async def _find_stop_ids(self) -> frozenset[int]:
        turn = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
        open_turn = await self._render(turn, prefill=True)
        closed = await self._tokenize(turn, generation_prompt=False, continue_final=False)
        if len(closed) <= len(open_turn) or closed[: len(open_turn)] != open_turn:
            raise BackendError("cannot find the end-of-turn token from the chat template")
        return frozenset({closed[len(open_turn)]})

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
        """POST and read the JSON reply. Every request this backend makes is a pure read
        (tokenize, detokenize, a greedy or seeded completion, a prefill), so one that
        fails on a connection the server had closed is sent once more."""
        try:
            try:
                return await self._send(url, body)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                return await self._send(url, body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BackendError(f"{url}: {exc!r}") from exc

    async def _send(self, url: str, body: dict[str, Any]) -> Any:
        async with self._session.post(url, json={"model": self._served, **body}) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise BackendError(f"{url}: HTTP {resp.status}: {str(data)[:300]}")
            return data

    async def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        data = await self._post(self._base + "/chat/completions", body)
        try:
            choice: dict[str, Any] = data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"chat completion without a choice: {exc!r}") from exc
        return choice

    async def generate(self, messages: Chat, sampling: SamplingSpec) -> Generation:
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

    async def _render(self, messages: Chat, prefill: bool) -> list[int]:
        return await self._tokenize(messages, generation_prompt=not prefill, continue_final=prefill)

    async def _tokenize(
        self, messages: Chat, generation_prompt: bool, continue_final: bool
    ) -> list[int]:
        return await self._tokens(
            {
                "messages": [dict(m) for m in messages],
                "add_generation_prompt": generation_prompt,
                "continue_final_message": continue_final,
            }
        )

    async def tokenize(self, text: str) -> list[int]:
        return await self._tokens({"prompt": text, "add_special_tokens": False})

    async def _tokens(self, body: dict[str, Any]) -> list[int]:
        data = await self._post(self._root + "/tokenize", body)
        try:
            return [int(t) for t in data["tokens"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError("the server's /tokenize returned no tokens") from exc

    async def next_token_logprobs(self, prompts: Sequence[Chat]) -> list[dict[str, float]]:
        rendered = await asyncio.gather(*(self._render(p, prefill=True) for p in prompts))
        data = await self._post(
            self._base + "/completions",
            {"prompt": rendered, "max_tokens": 1, "temperature": 0.0, "logprobs": TOP_LOGPROBS},
        )
        try:
            choices = sorted(data["choices"], key=lambda c: int(c["index"]))
            tops = [c["logprobs"]["top_logprobs"][0] for c in choices]
            out = [{str(t): float(lp) for t, lp in top.items()} for top in tops]
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise BackendError("the server returned no top logprobs for the verdicts") from exc
        if len(out) != len(prompts):
            raise BackendError(f"{len(prompts)} verdict prompts, {len(out)} answers")
        return out

    async def _detokenize(self, token_ids: Sequence[int]) -> str:
        data = await self._post(self._root + "/detokenize", {"tokens": list(token_ids)})
        return str(data.get("prompt", ""))

    async def teacher_force(self, messages: Chat, token_ids: Sequence[int]) -> Forced:
        if not token_ids:
            return Forced("", [], False)
        prompt = await self._render(messages, prefill=False)
        data = await self._post(
            self._base + "/completions",
            {
                "prompt": prompt + list(token_ids),
                "max_tokens": 1,
                "temperature": 0.0,
                "prompt_logprobs": TOP_LOGPROBS,
            },
        )
        try:
            logprobs = data["choices"][0]["prompt_logprobs"]
            scores = []
            for position, token in enumerate(token_ids, start=len(prompt)):
                entry = logprobs[position]
                own = entry[str(token)]
                top = [(int(e["rank"]), float(e["logprob"])) for e in entry.values()]
                scores.append(
                    TokenScore.of(float(own["logprob"]), int(own["rank"]), top, TOP_LOGPROBS)
                )
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError("the server returned no prompt logprobs (needs vLLM)") from exc
        last = token_ids[-1]
        stopped = last in self.stop_ids or await self._detokenize([last]) == ""
        body = token_ids[:-1] if stopped else token_ids
        text = await self._detokenize(body) if body else ""
        return Forced(text, scores, stopped, self.vocab_size)

    async def close(self) -> None:
        await self._session.close()
