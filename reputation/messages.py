"""Payloads of the signed protocol messages: one pydantic model per message type.

A signed message (`reputation.envelope`) carries `type`, `round_id`, `sender`,
`timestamp`, `payload` and `signature`; this module says what each type's
`payload` holds. They live here, next to the envelope and the log, so that every
reader of the protocol (the node, the log, the reputation rules, the audit)
parses them the same way without importing `node`.

The exchanges of a round, by phase (DESIGN.md, "A round"):

| phase | coordinator sends | participant replies |
|---|---|---|
| 2 answer | `announce` (`AnnouncePayload`) | `answer` (`AnswerPayload`) |
| 4 judge | `judge_request` (`JudgeRequestPayload`) | `verdict` (`VerdictPayload`) |
| 6 verify | `verify_request` (`VerifyRequestPayload`) | `verification` (`VerificationPayload`) |
| 7 settle | `result` (`reputation.result.SwarmResult`) | |

Calibration (`POST /swarm/v1/calibrate`, `reputation.calibration`), a candidate
with an attester, not in a round (`round_id` null):

| candidate sends | attester replies |
|---|---|
| `calibrate_request` (`CalibrateRequestPayload`) | `challenge` (`ChallengePayload`) |
| `calibrate_replies` (`RepliesPayload`) | `attestation` (`AttestationPayload`) |

`payload_of` validates a message's payload against its model; a payload that
does not fit raises `InvalidPayload`, naming the field.
"""

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from reputation.envelope import EnvelopeError

__all__ = [
    "METHODS",
    "REFUSAL",
    "AnnouncePayload",
    "AnswerPayload",
    "AnsweringReply",
    "AttestationPayload",
    "CalibrateRequestPayload",
    "ChallengePayload",
    "ChatTurn",
    "InvalidPayload",
    "JudgeRequestPayload",
    "JudgeTask",
    "JudgingTask",
    "Method",
    "MethodResult",
    "RepliesPayload",
    "Sampling",
    "SettleRequestPayload",
    "SettleSignaturePayload",
    "TaskVerdict",
    "VerdictPayload",
    "VerificationPayload",
    "VerifyRequestPayload",
    "payload_of",
]

Role = Literal["system", "user", "assistant"]
P = TypeVar("P", bound=BaseModel)


class InvalidPayload(EnvelopeError):
    """A signed message whose payload does not fit its type's schema."""


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChatTurn(Payload):
    role: Role
    content: StrictStr


class AnnouncePayload(Payload):
    """Phase 2: the coordinator asks the drawn participants to answer."""

    messages: Annotated[list[ChatTurn], Field(min_length=1)]
    max_tokens: Annotated[StrictInt, Field(ge=1)]
    participants: list[StrictStr]
    prompt_hash: StrictStr
    """Digest of `messages` (canonical JSON)."""
    nonce: Annotated[StrictStr, Field(pattern=r"^([0-9a-fA-F]{2})*$")]
    """Hex; round_id = keccak(canonical({messages, max_tokens}) ‖ coordinator ‖ nonce)."""
    model: StrictStr = ""
    """The round's model id: every answer must claim it, and verifiers serve it (empty in
    announcements logged before rounds named their model: no participant accepts those)."""
    topic: Annotated[StrictStr, Field(max_length=64)] = ""
    """The query's topic for the judges' records: the client's category, or a topic
    the coordinator inferred (`reputation.epoch`); "" for none."""
    topic_source: Literal["", "client", "inferred"] = ""
    weights: dict[StrictStr, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] = {}
    """Each eligible node's weight in the round's draws (`reputation.draws`), as read
    from the registry: the pool the participants were drawn from."""
    draw_size: Annotated[StrictInt, Field(ge=0, le=1024)] = 0
    """How many participants were drawn for (at most): with `weights` and the round id
    anyone re-draws `participants`, and a participant refuses an announcement whose
    participants are not that draw."""

    def chat(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.messages]


class Sampling(Payload):
    """How an answer was sampled; enough to reproduce it with the same model."""

    temperature: Annotated[float, Field(ge=0.0, le=2.0)]
    top_p: Annotated[float, Field(gt=0.0, le=1.0)]
    seed: StrictInt
    max_tokens: Annotated[StrictInt, Field(ge=1)]


class AnswerPayload(Payload):
    """Phase 2: a participant's answer."""

    text: StrictStr
    token_ids: list[StrictInt]
    model: StrictStr
    sampling: Sampling
    prompt_hash: StrictStr
    finish_reason: StrictStr
    announce: StrictStr
    """Digest of the announcement answered."""
    signature: StrictStr
    """LSH signature of `text` (hex of a serialized LeanMinHash, `verification.signatures`)."""


class JudgeTask(Payload):
    task: StrictInt
    first: StrictStr
    second: StrictStr
    first_digest: StrictStr
    """`reputation.draws.text_digest` of `first`."""
    second_digest: StrictStr


class JudgeRequestPayload(Payload):
    """Phase 4: one judge's tasks of a round, all at once."""

    judge: StrictStr
    """The judge the request is for (it refuses a request meant for another)."""
    messages: Annotated[list[ChatTurn], Field(min_length=1)]
    tasks: Annotated[list[JudgeTask], Field(min_length=1, max_length=256)]
    attempt: Annotated[StrictInt, Field(ge=0, le=1)] = 0
    """0 for the round's assignment, 1 for the re-assignment of failed judges' tasks
    (a coordinator sends a judge at most one request of each)."""

    def chat(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.messages]


class TaskVerdict(Payload):
    task: StrictInt
    first_digest: StrictStr
    second_digest: StrictStr
    p_first: Annotated[float, Field(ge=0.0, le=1.0)]
    """P(first is better), from the verdict tokens' probabilities."""
    mass: Annotated[float, Field(ge=0.0, le=1.0)]
    """The probability mass the verdict tokens held: the verdict's confidence, and its
    weight in the round's fit (0 for an unreadable verdict)."""


class VerdictPayload(Payload):
    """Phase 4: a judge's verdicts on every task of its request."""

    model: StrictStr
    request: StrictStr
    """Digest of the judge request answered."""
    verdicts: list[TaskVerdict]


Method = Literal["teacher_forced", "reexecution"]
METHODS: tuple[Method, ...] = ("teacher_forced", "reexecution")
REFUSAL = "refusal"
"""The `method` of a signed refusal: the claim is one no honest node of the verifier's
model could make (another model, impossible token ids, an unreadable LSH signature)."""


class VerifyRequestPayload(Payload):
    """Phase 6: check one signed answer."""

    subject: StrictStr
    """Digest of the signed answer to verify (one request per answer and round)."""
    answer: dict[str, Any]
    """The signed answer message."""
    announce: dict[str, Any] | None = None
    """The round's signed announcement; omitted, the verifier looks it up in its log."""
    methods: Annotated[list[Method], Field(min_length=1, max_length=2)]
    reexecute: Literal["always", "decisive"] = "always"
    pool: list[StrictStr] = []
    """The nodes the verifiers were drawn from (`reputation.draws.draw_verifiers`)."""
    verifiers: list[StrictStr] = []
    """The verifiers drawn, each sent this same request."""
    """With both methods: `always` re-executes; `decisive` re-executes only when its
    result can change the vote (`verification.policy.reexecution_decides`, for an
    answer not flagged as a copy), so the results may hold the teacher-forced one alone."""


class MethodResult(Payload):
    """One verification method's result (`verification.base.VerificationResult`), or
    `REFUSAL`: the verifier refused the claim itself (its evidence has the `code`)."""

    method: StrictStr
    passed: StrictBool
    score: float
    evidence: dict[str, Any]


class VerificationPayload(Payload):
    """Phase 6: a verifier's results on one answer (or its signed refusal of the claim)."""

    subject: StrictStr
    request: StrictStr
    """Digest of the verify request answered."""
    model: StrictStr
    results: Annotated[list[MethodResult], Field(min_length=1)]


class SettleRequestPayload(Payload):
    """A committer asks a batch's participant to co-sign its settlement
    (`node.chain.batches` ↔ `node.serve.cosign`)."""

    batch: int = Field(ge=0)
    root: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    chain_id: int
    contract: str
    results: list[dict[str, Any]] = Field(min_length=1, max_length=256)
    """The batch's signed round results, in leaf order."""
    evidence: list[list[dict[str, Any]]] = Field(default=[], max_length=256)
    """Equivocation evidence settled with the batch: pairs [first, second]."""


class SettleSignaturePayload(Payload):
    batch: int
    root: str
    signature: str = Field(pattern=r"^0x[0-9a-f]{130}$")
    """The co-signer's EIP-712 signature of the settlement (`contracts.settlement`)."""


Hex32 = Annotated[StrictStr, Field(pattern=r"^0x[0-9a-f]{64}$")]
Address = Annotated[StrictStr, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class CalibrateRequestPayload(Payload):
    """A candidate asks to be calibrated for the model it serves, on one chain."""

    model: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    chain_id: StrictInt
    contract: Address


class JudgingTask(Payload):
    instruction: StrictStr
    first: StrictStr
    second: StrictStr


class ChallengePayload(Payload):
    """The attester's challenges for one session; the replies are due by `deadline`."""

    session: Hex32
    node: Address
    model: StrictStr
    judging: list[JudgingTask]
    answering: list[StrictStr]
    """Questions, each asked as one user turn."""
    max_tokens: StrictInt
    deadline: float


class AnsweringReply(Payload):
    text: StrictStr
    token_ids: Annotated[list[StrictInt], Field(max_length=4096)]


class RepliesPayload(Payload):
    """The candidate's replies, in the challenge's order."""

    session: Hex32
    judging: Annotated[
        list[Annotated[list[float], Field(min_length=2, max_length=2)]], Field(max_length=256)
    ]
    """Per judging task: the mean token log-probability of `first` and of `second`."""
    answering: Annotated[list[AnsweringReply], Field(max_length=64)]


class AttestationPayload(Payload):
    """The attester's verdict; `signature` (EIP-712 `Capability`, `contracts.capability`)
    only when the candidate passed."""

    session: Hex32
    node: Address
    model: StrictStr
    passed: StrictBool
    score: StrictInt
    """Basis points."""
    issued: StrictInt
    judging: list[StrictInt]
    """[right, total]"""
    answering: list[StrictInt]
    check_failures: StrictInt
    reasons: list[StrictStr]
    signature: StrictStr
    """0x-hex of 65 bytes, or empty when the candidate failed."""


def payload_of(model: type[P], message: dict[str, Any]) -> P:
    """Validate a signed message's payload against `model`; `InvalidPayload` if it does
    not fit."""
    try:
        return model.model_validate(message["payload"])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidPayload(f"{message.get('type')} payload: {where}: {first['msg']}") from exc
