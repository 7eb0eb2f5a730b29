"""What the HTTP endpoints do, without aiohttp: validation, rounds, replies.

Requests are fully validated (model, sizes) before any work starts.
Model names: `swarm` runs a round; this node's own model id is a plain
generation by this node alone (useful as a baseline), honouring the client's
`temperature`, `top_p` and `seed`. `max_tokens` is capped at the node's
`sampling.max_tokens`.

Admission: a round or a plain generation takes a place in flight first (`admit`);
beyond `round.max_rounds_in_flight` rounds (or `round.max_plain_in_flight` plain
generations; 0 derives both from the measured engine speed, `node.serve.limits`)
the client gets 429 with `Retry-After` at once. A stream is admitted before it opens.
"""

import time
from typing import Any

from node.api.protocol import (
    SWARM_MODEL,
    UNSUPPORTED,
    ChatCompletion,
    ChatCompletionRequest,
    completion,
)
from node.chain.batches import inclusion
from node.context import NodeContext
from node.errors import BadRequest, NotFound, TooManyRequests
from node.inference.base import SamplingSpec
from node.round import Coordinator, Progress, no_progress
from node.serve import handlers
from node.serve.limits import (
    AdaptiveInFlight,
    InFlight,
    Slot,
    derived_in_flight,
    retry_seconds,
)
from reputation.result import StoredRound

__all__ = ["VERSION", "SwarmService"]

VERSION = "0.1.0"


class SwarmService:
    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        self.coordinator = Coordinator(ctx)
        self.serve = handlers(ctx)
        """The participant's handlers by peer path (`node.serve`)."""
        r, retry = ctx.config.round, retry_seconds(ctx.config, ctx.speed)
        derived = derived_in_flight(ctx.config, ctx.speed)
        self.rounds = self._in_flight("rounds", r.max_rounds_in_flight, derived, retry)
        """Client rounds in flight here: admission control (`node.serve.limits`)."""
        self.plain = self._in_flight("plain", r.max_plain_in_flight, derived, retry)
        """Plain generations (this node's own model id) in flight here."""

    def _in_flight(self, kind: str, fixed: int, ceiling: int, retry: float) -> InFlight:
        """A fixed limit when the operator set one; else one that follows latency."""
        metrics = self.ctx.metrics
        gauge, limit = metrics.in_flight.labels(kind), metrics.in_flight_limit.labels(kind)
        what = f"{kind} (client requests)"
        if fixed:
            limit.set(fixed)
            return InFlight(what, fixed, retry, gauge.set)

        def changed(count: int) -> None:
            gauge.set(count)
            limit.set(adaptive.limit)

        adaptive = AdaptiveInFlight(what, ceiling, retry, changed)
        limit.set(adaptive.limit)
        return adaptive

    def admit(self, request: ChatCompletionRequest) -> Slot:
        """Check `request` and take its place in flight, at once: a 4xx for bad input,
        then a 429 (`TooManyRequests`, with `Retry-After`) when the node is at its limit
        for rounds or for plain generations; never a wait."""
        self.check(request)
        limiter = self.rounds if request.model == SWARM_MODEL else self.plain
        try:
            return limiter.acquire()
        except TooManyRequests:
            self.ctx.metrics.refused_busy.labels("/v1/chat/completions").inc()
            raise

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
            missing = NotFound(
                f"the model {request.model!r} does not exist; this node serves "
                f"{SWARM_MODEL!r} and {self.ctx.backend.model_id!r}",
                code="model_not_found",
            )
            missing.type = "invalid_request_error"  # as OpenAI and vLLM answer it
            raise missing
        refused = request.refusal(swarm=request.model == SWARM_MODEL)
        if refused:
            raise BadRequest(refused, code=UNSUPPORTED)
        messages = request.plain_messages()
        size = sum(len(m["content"]) for m in messages)
        limit = self.ctx.config.round.max_prompt_chars
        if size > limit:
            raise BadRequest(
                f"the conversation has {size} characters; the limit is {limit}",
                code="context_length_exceeded",
            )
        if len(request.category()) > 64:
            raise BadRequest("metadata.category is longer than 64 characters")
        cap = self.ctx.config.sampling.max_tokens
        return messages, min(request.token_limit() or cap, cap)

    async def complete(
        self,
        request: ChatCompletionRequest,
        progress: Progress = no_progress,
        admitted: Slot | None = None,
    ) -> ChatCompletion:
        """Serve `request` in the place `admitted` holds (taken now when None)."""
        with admitted or self.admit(request):
            return await self._complete(request, progress)

    async def _complete(self, request: ChatCompletionRequest, progress: Progress) -> ChatCompletion:
        messages, max_tokens = self.check(request)
        created = int(time.time())
        if request.model == SWARM_MODEL:
            category = request.category()
            settled = await self.coordinator.run(messages, max_tokens, progress, category)
            cid = "chatcmpl-" + settled.reply.round_id[2:34]
            return completion(
                cid, SWARM_MODEL, settled.text, settled.finish_reason, settled.reply, created
            )
        cfg = self.ctx.config.sampling
        sampling = SamplingSpec(
            temperature=cfg.temperature if request.temperature is None else request.temperature,
            top_p=cfg.top_p if request.top_p is None else request.top_p,
            seed=cfg.seed if request.seed is None else request.seed,
            max_tokens=max_tokens,
        )
        generation = await self.ctx.backend.generate(messages, sampling)
        return completion(
            f"chatcmpl-{time.time_ns():x}",
            request.model,
            generation.text,
            generation.finish_reason,
            None,
            created,
        )

    async def round(self, round_id: str) -> StoredRound:
        found = await self.ctx.journal.read(lambda log: log.round(round_id))
        if found is None:
            raise NotFound(f"no round {round_id} in this node's log")
        return found

    async def commitment(self, round_id: str) -> dict[str, Any] | None:
        """Where the round is committed on chain, with its inclusion proof (None: not yet
        in a batch, or the chain is off)."""
        link = self.ctx.chain
        if link is None:
            return None
        found = await self.ctx.journal.read(lambda log: inclusion(log, round_id))
        if found is not None:
            found |= {
                "committer": self.ctx.address,
                "contract": link.chain.address,
                "chain_id": link.chain.chain_id,
            }
        return found

    def info(self) -> dict[str, Any]:
        ctx = self.ctx
        sampling, rounds = ctx.config.sampling, ctx.config.round
        return {
            "node": ctx.address,
            "version": VERSION,
            "model": ctx.backend.model_id,
            "backend": ctx.config.inference.backend,
            "dtype": ctx.backend.dtype,
            "sampling": {
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "max_tokens": sampling.max_tokens,
            },
            "timeouts": {
                "answer": rounds.answer_timeout or "scaled",
                "judge": rounds.judge_timeout or "scaled",
                "verify": ctx.config.verification.timeout or "scaled",
                "margin": rounds.timeout_margin,
                "floor": rounds.timeout_floor,
            },
            "speed": ctx.speed.as_dict(),
            "admission": {"rounds": self.rounds.as_dict(), "plain": self.plain.as_dict()},
            "verification": {
                "enabled": ctx.config.verification.enabled,
                "verifiers": ctx.config.verification.verifiers,
                "sample_rate": ctx.config.verification.sample_rate,
            },
            "peers": [
                {"node": p.address, "url": p.url, "healthy": p.healthy} for p in ctx.peers.remotes
            ],
            "log_head": ctx.journal.head,
        }

    def health(self) -> dict[str, Any]:
        """`"status": "ok"` once a round can run (the route answers 200), else
        `"starting"` with `waiting_for` (503): see `waiting_for`."""
        remotes = self.ctx.peers.remotes
        waiting = self.waiting_for()
        return {
            "status": "starting" if waiting else "ok",
            **({"waiting_for": waiting} if waiting else {}),
            "node": self.ctx.address,
            "model": self.ctx.backend.model_id,
            "peers": {"known": len(remotes), "healthy": sum(p.healthy for p in remotes)},
            "clock": self.clock(),
        }

    def clock(self) -> dict[str, Any]:
        """The `clock` field of `/health`: this node's offset to its peers' clocks, and its
        own signed stamp for theirs to measure (`node.peers.clock`)."""
        clock = self.ctx.peers.peer_clock
        return {**clock.report(), "stamp": clock.stamp(self.ctx.account)}

    def waiting_for(self) -> str | None:
        """What this node waits for before a round it coordinates can run (None: ready).

        Ready means: on its chain when the chain is on (registered and admitted: the
        link is set once `open_chain` returns), and `round.min_answers` answering nodes
        of its model in its pool, itself and remote peers that a probe has seen up,
        healthy and serving the model (`Directory.ready_peers`). A peer that is up but
        itself still starting counts: it serves as a participant."""
        ctx = self.ctx
        if ctx.config.chain.enabled and ctx.chain is None:
            return "joining its chain (registering, staking, admission)"
        model, need = ctx.backend.model_id, ctx.config.round.min_answers
        have = 1 + len(ctx.peers.ready_peers(model))
        if have < need:
            return (
                f"{need} answering nodes serving {model}; {have} known "
                f"(this node and {have - 1} peer(s) seen up)"
            )
        return None
