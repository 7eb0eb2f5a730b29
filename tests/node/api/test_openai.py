"""OpenAI compatibility of `/v1/chat/completions` (issue 18, point 7): an unknown model
is a 404 `model_not_found`; every chat parameter is honoured or refused with a 400
naming it, before any work; the official SDK keeps working."""

from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI, NotFoundError

from node.api.protocol import UNSUPPORTED

PROMPT = [{"role": "user", "content": "Why is the sky blue?"}]

REFUSED: list[tuple[str, Any]] = [
    ("tools", [{"type": "function", "function": {"name": "f", "parameters": {}}}]),
    ("functions", [{"name": "f", "parameters": {}}]),
    ("tool_choice", "auto"),
    ("function_call", "auto"),
    ("response_format", {"type": "json_object"}),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
    ("logprobs", True),
    ("top_logprobs", 3),
    ("n", 2),
    ("logit_bias", {"50256": -100}),
    ("stop", ["\n"]),
    ("stop", "END"),
    ("presence_penalty", 0.5),
    ("frequency_penalty", -1.0),
    ("stream_options", {"include_usage": True}),
    ("audio", {"voice": "alloy", "format": "wav"}),
    ("modalities", ["text", "audio"]),
    ("prediction", {"type": "content", "content": "x"}),
    ("store", True),
    ("service_tier", "flex"),
    ("reasoning_effort", "high"),
    ("top_k", 5),  # vLLM's, not OpenAI's
    ("made_up_field", 1),
]
"""(parameter, a value this node does not honour) for every model."""

ACCEPTED: list[tuple[str, Any]] = [
    ("tools", []),
    ("tool_choice", "none"),
    ("response_format", {"type": "text"}),
    ("logprobs", False),
    ("top_logprobs", 0),
    ("n", 1),
    ("logit_bias", {}),
    ("stop", []),
    ("presence_penalty", 0),
    ("frequency_penalty", 0.0),
    ("stream_options", {"include_usage": False}),
    ("modalities", ["text"]),
    ("store", False),
    ("service_tier", "auto"),
    ("user", "user-1234"),
    ("parallel_tool_calls", True),
    ("max_completion_tokens", 60),
    ("metadata", {"category": "physics"}),
]
"""(parameter, a value that changes nothing this node does) for model `swarm`."""


async def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/chat/completions", json=body) as resp,
    ):
        return resp.status, await resp.json()


def assert_error(body: dict[str, Any], code: str) -> dict[str, Any]:
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}
    assert body["error"]["code"] == code
    return dict(body["error"])


async def test_unknown_model_is_404_model_not_found(api_swarm) -> None:
    async with api_swarm(1) as swarm:
        node = swarm.nodes[0]
        status, body = await post(node.url, {"model": "gpt-4", "messages": PROMPT})
        assert status == 404
        error = assert_error(body, "model_not_found")
        assert error["type"] == "invalid_request_error" and "gpt-4" in error["message"]
        status, body = await post(node.url, {"model": "gpt-4", "messages": PROMPT, "stream": True})
        assert status == 404 and assert_error(body, "model_not_found")
        client = AsyncOpenAI(base_url=node.url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(NotFoundError):
            await client.chat.completions.create(model="gpt-4", messages=PROMPT)  # type: ignore[arg-type]
        await client.close()


async def test_every_unsupported_parameter_is_refused_by_name_before_any_work(api_swarm) -> None:
    async with api_swarm(1) as swarm:
        node = swarm.nodes[0]
        head, generated = node.ctx.journal.head, dict(node.ctx.backend.model.outputs)
        for model in ("swarm", node.ctx.backend.model_id):
            for stream in (False, True):
                for name, value in REFUSED:
                    body = {"model": model, "messages": PROMPT, "stream": stream, name: value}
                    status, reply = await post(node.url, body)
                    assert status == 400, (model, name, value, reply)
                    message = assert_error(reply, UNSUPPORTED)["message"]
                    assert repr(name) in message, (name, message)
        assert node.ctx.journal.head == head  # nothing reached the log
        assert node.ctx.backend.model.outputs == generated  # nor the engine


async def test_client_sampling_is_refused_for_the_swarm_and_honoured_by_the_plain_path(
    api_swarm,
) -> None:
    async with api_swarm(1) as swarm:
        node = swarm.nodes[0]
        for name, value in (("temperature", 0.0), ("top_p", 0.5), ("seed", 7)):
            status, body = await post(node.url, {"model": "swarm", "messages": PROMPT, name: value})
            assert status == 400 and repr(name) in assert_error(body, UNSUPPORTED)["message"]
        own = node.ctx.backend.model_id
        body = {"model": own, "messages": PROMPT, "temperature": 0.0, "top_p": 0.5, "seed": 7}
        before = set(node.ctx.backend.model.outputs)
        status, reply = await post(node.url, body)
        assert status == 200 and reply["choices"][0]["message"]["content"]
        ((_, sampling),) = set(node.ctx.backend.model.outputs) - before  # what the engine got
        assert (sampling.temperature, sampling.top_p, sampling.seed) == (0.0, 0.5, 7)


async def test_the_sdk_and_harmless_parameters_still_work(api_swarm) -> None:
    async with api_swarm(3) as swarm:
        url = swarm.nodes[0].url
        client = AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        reply = await client.chat.completions.create(
            model="swarm",
            messages=PROMPT,  # type: ignore[arg-type]
            max_tokens=64,
        )
        assert reply.choices[0].message.content and reply.model_extra
        assert reply.model_extra["swarm"]["candidates"]
        stream = await client.chat.completions.create(
            model="swarm",
            stream=True,
            messages=PROMPT,  # type: ignore[arg-type]
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text
        await client.close()
        for name, value in ACCEPTED:
            status, body = await post(url, {"model": "swarm", "messages": PROMPT, name: value})
            assert status == 200, (name, value, body)
