"""Request and response models of the client API (OpenAI's chat completions schema).

Every parameter of OpenAI's chat completions request is either honoured or refused
with a 400 `unsupported_parameter` whose message names it (`refusal`, called by
`node.api.service.SwarmService.check` before any work); nothing is accepted and
silently ignored when it would change the answer. Per parameter, and how it combines
with consensus (model `swarm`) and the plain path (this node's own model id):

- `model`, `messages`, `stream`: honoured.
- `max_tokens`, `max_completion_tokens`: honoured, capped at `sampling.max_tokens`;
  for `swarm` the limit is in the signed announcement, so every node answers within it.
- `temperature`, `top_p`, `seed`: honoured on the plain path; for `swarm` refused
  unless null: in a round every node samples with its own signed settings, which
  verifiers re-execute, so a client cannot set them (ignoring them would be silent).
- `n`: 1 only (a round chooses one answer).
- `metadata`: `category` names the topic of the judges' records (`swarm`); no
  effect on the plain path.
- `user` (OpenAI's end-user id for abuse monitoring), `parallel_tool_calls`
  (meaningless without `tools`): accepted, no effect on the answer.
- `store`: false/null only (no stored-completions API; rounds are in the log at
  `/v1/rounds/{id}`). `service_tier`: null, `auto` or `default` only.
- `tools`, `functions`: null or empty only; `tool_choice`, `function_call`: null or
  `none` only: no tool calling (a round compares and verifies texts).
- `response_format`: null or `{"type": "text"}` only: no JSON mode or schema (a
  constrained decode is not what verifiers re-execute).
- `logprobs`, `top_logprobs`: false/null/0 only: answers carry no log-probabilities.
- `logit_bias`: null or empty only; `presence_penalty`, `frequency_penalty`: null or
  0 only: the engine is not given biases or penalties (and a round's signed sampling
  settings have none, so verifiers could not reproduce them).
- `stop`: null or empty only. Cutting the chosen answer would return a text other
  than the signed, verified one (its digest is `swarm.winner.digest`); a node
  cutting its own answer would not match a verifier's re-execution. The plain path
  refuses it too (the engine is not given stop strings).
- `stream_options`: null or `include_usage: false` only (replies carry no `usage`).
- `audio`, `prediction`, `reasoning_effort`, `verbosity`, `web_search_options`:
  null only; `modalities`: null or `["text"]` only.
- Any other field (e.g. vLLM's `top_k`): refused as an unknown parameter.

Fields of a message other than `role` and `content` (OpenAI's `name`, ...) are
ignored. A reply to the `swarm` model carries the round's `swarm` object
(`reputation.result.SwarmReply`) at the top level of the completion, and of the
last chunk of a stream. Peer payloads are not here: they are the signed
messages' schemas (`reputation.messages`).
"""

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from reputation.result import SwarmReply

__all__ = [
    "SWARM_MODEL",
    "UNSUPPORTED",
    "ChatCompletion",
    "ChatCompletionRequest",
    "ChatMessage",
    "completion",
    "finish_reason",
]

SWARM_MODEL = "swarm"


class TextPart(BaseModel):
    type: Literal["text"]
    text: StrictStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: StrictStr | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


UNSUPPORTED = "unsupported_parameter"
"""The error code of a refused parameter."""

_SWARM_SAMPLING = ("temperature", "top_p", "seed")


def _is_absent(value: Any) -> bool:
    return value is None or value is False or value == [] or value == {}


def _allowed(name: str, value: Any) -> bool:
    """Whether an optional parameter's value is one this node honours (the table above)."""
    if _is_absent(value):
        return True
    if name in ("tool_choice", "function_call"):
        return value == "none"
    if name == "response_format":
        return value == {"type": "text"}
    if name == "top_logprobs":
        return value == 0
    if name in ("presence_penalty", "frequency_penalty"):
        return value == 0
    if name == "stream_options":
        return isinstance(value, dict) and value.get("include_usage") in (None, False)
    if name == "modalities":
        return value == ["text"]
    if name == "service_tier":
        return value in ("auto", "default")
    return False


class ChatCompletionRequest(BaseModel):
    """OpenAI's schema. `model` is `swarm` (consensus) or this node's own model id
    (a plain generation by this node). What each parameter does, or why it is
    refused: the module docstring."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: StrictBool = False
    max_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    seed: StrictInt | None = None
    n: Annotated[StrictInt, Field(ge=1)] = 1
    metadata: dict[StrictStr, Annotated[StrictStr, Field(max_length=512)]] | None = None
    """OpenAI's free-form map; `category` names the query's topic for the judges'
    records (`reputation.records`): trimmed, lower-cased, at most 64 characters."""
    user: Annotated[StrictStr, Field(max_length=256)] | None = None
    """OpenAI's end-user id: accepted, no effect on the answer."""
    parallel_tool_calls: StrictBool | None = None
    """Accepted, no effect (tools are refused)."""
    store: StrictBool | None = None
    service_tier: StrictStr | None = None
    tools: list[JsonValue] | None = None
    functions: list[JsonValue] | None = None
    tool_choice: JsonValue = None
    function_call: JsonValue = None
    response_format: JsonValue = None
    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = None
    logit_bias: dict[str, JsonValue] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: StrictStr | list[StrictStr] | None = None
    stream_options: dict[str, JsonValue] | None = None
    audio: JsonValue = None
    modalities: list[StrictStr] | None = None
    prediction: JsonValue = None
    reasoning_effort: StrictStr | None = None
    verbosity: StrictStr | None = None
    web_search_options: JsonValue = None

    def refusal(self, swarm: bool) -> str | None:
        """Why this request cannot be served as asked (naming the first parameter
        this node does not honour), or None. `swarm`: the model is `swarm`."""
        unknown = sorted(self.model_extra or {})
        if unknown:
            return (
                f"unsupported parameter {unknown[0]!r}: not a chat completions parameter "
                "this node implements"
            )
        if self.n != 1:
            return "unsupported parameter 'n': one choice only (a round chooses one answer)"
        if swarm:
            for name in _SWARM_SAMPLING:
                if getattr(self, name) is not None:
                    return (
                        f"unsupported parameter {name!r} for model {SWARM_MODEL!r}: in a round "
                        "every node samples with its own signed settings; leave it out, or ask "
                        "this node's own model for a plain generation"
                    )
        if self.stop is not None and self.stop not in ("", []):
            return (
                "unsupported parameter 'stop': the answer is not cut at stop strings "
                "(a cut answer would not be the signed, verified text)"
            )
        for name in _OPTIONAL:
            value = getattr(self, name)
            if not _allowed(name, value):
                return (
                    f"unsupported parameter {name!r}: this node does not implement "
                    f"{name}={_show(value)}"
                )
        return None

    @field_validator("messages")
    @classmethod
    def _last_is_not_assistant(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role == "assistant":
            raise ValueError("the last message must come from the user or the system")
        return messages

    def plain_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.text()} for m in self.messages]

    def category(self) -> str:
        value = (self.metadata or {}).get("category", "")
        return " ".join(value.split()).lower()

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


_OPTIONAL = (
    "store",
    "service_tier",
    "tools",
    "functions",
    "tool_choice",
    "function_call",
    "response_format",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "stream_options",
    "audio",
    "modalities",
    "prediction",
    "reasoning_effort",
    "verbosity",
    "web_search_options",
)


def _show(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 60 else text[:57] + "..."


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    swarm: SwarmReply | None = None

    @property
    def text(self) -> str:
        return self.choices[0].message.content

    def body(self) -> dict[str, Any]:
        """The JSON body (`swarm` only when a round chose the answer)."""
        out = self.model_dump(mode="json", exclude={"swarm"})
        if self.swarm is not None:
            out["swarm"] = self.swarm.model_dump(mode="json")
        return out


def finish_reason(reason: str) -> Literal["stop", "length"]:
    return "length" if reason == "length" else "stop"


def completion(
    cid: str, model: str, text: str, reason: str, swarm: SwarmReply | None, created: int
) -> ChatCompletion:
    return ChatCompletion(
        id=cid,
        created=created,
        model=model,
        choices=[
            Choice(message=AssistantMessage(content=text), finish_reason=finish_reason(reason))
        ],
        swarm=swarm,
    )
