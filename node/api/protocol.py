"""Request and response models of the client API (OpenAI's chat completions schema).

Fields OpenAI clients send that a swarm does not use are accepted and ignored.
A reply to the `swarm` model carries the round's `swarm` object
(`reputation.result.SwarmReply`) at the top level of the completion, and of the
last chunk of a stream. Peer payloads are not here: they are the signed
messages' schemas (`reputation.messages`).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from reputation.result import SwarmReply

__all__ = [
    "SWARM_MODEL",
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


class ChatCompletionRequest(BaseModel):
    """OpenAI's schema. `model` is `swarm` (consensus) or this node's own model id
    (a plain generation by this node). `temperature`, `top_p` and `seed` apply only to
    a plain generation: in a round every node samples with its own signed settings."""

    model_config = ConfigDict(extra="ignore")

    model: StrictStr
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: StrictBool = False
    max_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    seed: StrictInt | None = None
    n: Annotated[StrictInt, Field(ge=1, le=1)] = 1
    metadata: dict[StrictStr, Annotated[StrictStr, Field(max_length=512)]] | None = None
    """OpenAI's free-form map; `category` names the query's topic for the judges'
    records (`reputation.records`): trimmed, lower-cased, at most 64 characters."""

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
