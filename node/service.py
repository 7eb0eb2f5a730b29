"""What the HTTP endpoints do, without aiohttp: validation, rounds, replies.

Requests are fully validated (model, sizes) before any work starts.
Model names: `swarm` runs a round; this node's own model id is a plain
generation by this node alone (useful as a baseline), honouring the client's
`temperature`, `top_p` and `seed`. `max_tokens` is capped at the node's
`sampling.max_tokens`.
"""

import time
from typing import Any

from node.coordinator import Coordinator, Progress, no_progress
from node.errors import BadRequest, NotFound
from node.inference.base import SamplingSpec
from node.participant import serve_answer, serve_judge
from node.peers import PeerClient
from node.protocol import SWARM_MODEL, ChatCompletionRequest
from node.state import NodeContext
from node.verifying import serve_verify

__all__ = ["SwarmService", "completion_body"]

VERSION = "0.1.0"


def completion_body(
    cid: str, model: str, text: str, finish_reason: str, swarm: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": _openai_reason(finish_reason),
            }
        ],
    }
    if swarm is not None:
        body["swarm"] = swarm
    return body


def _openai_reason(reason: str) -> str:
    return "length" if reason == "length" else "stop"


class SwarmService:
    def __init__(self, ctx: NodeContext, client: PeerClient):
        self.ctx = ctx
        self.client = client
        self.coordinator = Coordinator(ctx, client)

    def models(self) -> dict[str, Any]:
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": SWARM_MODEL, "object": "model", "created": created, "owned_by": "swarm"},
                {
                    "id": self.ctx.backend.model_id,
                    "object": "model",
                    "created": created,
                    "owned_by": self.ctx.address,
                },
            ],
        }

    def check(self, request: ChatCompletionRequest) -> tuple[list[dict[str, str]], int]:
        """Refuse what cannot be served; return the messages and the token limit."""
        if request.model not in (SWARM_MODEL, self.ctx.backend.model_id):
            raise BadRequest(
                f"unknown model {request.model!r}; this node serves "
                f"{SWARM_MODEL!r} and {self.ctx.backend.model_id!r}",
                code="model_not_found",
            )
        messages = request.plain_messages()
        size = sum(len(m["content"]) for m in messages)
        limit = self.ctx.config.round.max_prompt_chars
        if size > limit:
            raise BadRequest(
                f"the conversation has {size} characters; the limit is {limit}",
                code="context_length_exceeded",
            )
        cap = self.ctx.config.sampling.max_tokens
        return messages, min(request.token_limit() or cap, cap)

    async def complete(
        self, request: ChatCompletionRequest, progress: Progress = no_progress
    ) -> dict[str, Any]:
        messages, max_tokens = self.check(request)
        if request.model == SWARM_MODEL:
            out = await self.coordinator.run(messages, max_tokens, progress)
            return completion_body(
                "chatcmpl-" + out["swarm"]["round_id"][2:34],
                SWARM_MODEL,
                out["text"],
                out["finish_reason"],
                out["swarm"],
            )
        cfg = self.ctx.config.sampling
        sampling = SamplingSpec(
            temperature=cfg.temperature if request.temperature is None else request.temperature,
            top_p=cfg.top_p if request.top_p is None else request.top_p,
            seed=cfg.seed if request.seed is None else request.seed,
            max_tokens=max_tokens,
        )
        generation = await self.ctx.backend.generate(messages, sampling)
        return completion_body(
            f"chatcmpl-{time.time_ns():x}",
            request.model,
            generation.text,
            generation.finish_reason,
            None,
        )

    def round(self, round_id: str) -> dict[str, Any]:
        found = self.ctx.log.round(round_id)
        if found is None:
            raise NotFound(f"no round {round_id} in this node's log")
        return found

    def info(self) -> dict[str, Any]:
        sampling = self.ctx.config.sampling
        return {
            "node": self.ctx.address,
            "version": VERSION,
            "model": self.ctx.backend.model_id,
            "backend": self.ctx.config.inference.backend,
            "sampling": {
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "max_tokens": sampling.max_tokens,
            },
            "peers": [
                {"node": p.address, "url": p.url, "healthy": p.healthy} for p in self.ctx.peers
            ],
            "log_head": self.ctx.log.head(),
        }

    def health(self) -> dict[str, Any]:
        healthy = sum(p.healthy for p in self.ctx.peers)
        return {
            "status": "ok",
            "node": self.ctx.address,
            "peers": {"known": len(self.ctx.peers), "healthy": healthy},
        }

    async def answer(self, message: Any) -> dict[str, Any]:
        return await serve_answer(self.ctx, message)

    async def judge(self, message: Any) -> dict[str, Any]:
        return await serve_judge(self.ctx, message)

    async def verify(self, message: Any) -> dict[str, Any]:
        return await serve_verify(self.ctx, message)
