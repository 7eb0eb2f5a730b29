"""Request and response models of the HTTP API (pydantic).

Client side follows OpenAI's chat completions schema; fields OpenAI clients
send that a swarm does not use are accepted and ignored. Peer payloads are the
`payload` of signed messages (see `reputation.envelope`).
"""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from node.errors import BadRequest

__all__ = [
    "AnnouncePayload",
    "AnswerPayload",
    "ChatCompletionRequest",
    "ChatMessage",
    "JudgeRequestPayload",
    "JudgeTask",
    "SamplingIn",
    "TaskVerdict",
    "VerdictPayload",
    "VerificationPayload",
    "VerifyRequestPayload",
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

    @field_validator("messages")
    @classmethod
    def _last_is_not_assistant(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role == "assistant":
            raise ValueError("the last message must come from the user or the system")
        return messages

    def plain_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.text()} for m in self.messages]

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class SimpleMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: StrictStr


class AnnouncePayload(BaseModel):
    messages: Annotated[list[SimpleMessage], Field(min_length=1)]
    max_tokens: Annotated[StrictInt, Field(ge=1)]
    participants: list[StrictStr]
    prompt_hash: StrictStr
    nonce: StrictStr
    """round_id = keccak(canonical({messages, max_tokens}) ‖ coordinator ‖ nonce)."""


class SamplingIn(BaseModel):
    temperature: float
    top_p: float
    seed: StrictInt
    max_tokens: StrictInt


class AnswerPayload(BaseModel):
    text: StrictStr
    token_ids: list[StrictInt]
    model: StrictStr
    sampling: SamplingIn
    prompt_hash: StrictStr
    finish_reason: StrictStr
    announce: StrictStr
    """Digest of the announcement answered."""
    signature: StrictStr
    """LSH signature of `text` (hex of a serialized LeanMinHash, `verification.signatures`)."""


class JudgeTask(BaseModel):
    task: StrictInt
    first: StrictStr
    second: StrictStr
    first_digest: StrictStr
    second_digest: StrictStr


class JudgeRequestPayload(BaseModel):
    messages: Annotated[list[SimpleMessage], Field(min_length=1)]
    tasks: Annotated[list[JudgeTask], Field(min_length=1, max_length=256)]


class TaskVerdict(BaseModel):
    task: StrictInt
    first_digest: StrictStr
    second_digest: StrictStr
    p_first: Annotated[float, Field(ge=0.0, le=1.0)]
    mass: Annotated[float, Field(ge=0.0, le=1.0)]


class VerdictPayload(BaseModel):
    model: StrictStr
    request: StrictStr
    """Digest of the judge request answered."""
    verdicts: list[TaskVerdict]


Method = Literal["teacher_forced", "reexecution"]


class VerifyRequestPayload(BaseModel):
    subject: StrictStr
    """Digest of the signed answer to verify (one request per answer and round)."""
    answer: dict[str, Any]
    """The signed answer message."""
    announce: dict[str, Any] | None = None
    """The round's signed announcement; omitted, the verifier looks it up in its log."""
    methods: Annotated[list[Method], Field(min_length=1, max_length=2)]


class VerificationOut(BaseModel):
    method: StrictStr
    passed: StrictBool
    score: float
    evidence: dict[str, Any]


class VerificationPayload(BaseModel):
    subject: StrictStr
    model: StrictStr
    results: Annotated[list[VerificationOut], Field(min_length=1)]


def payload_of(model: type[BaseModel], message: dict[str, Any]) -> Any:
    """Validate a signed message's payload against `model`; `BadRequest` if it does not fit."""
    try:
        return model.model_validate(message["payload"])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"{message.get('type')} payload: {where}: {first['msg']}") from exc
