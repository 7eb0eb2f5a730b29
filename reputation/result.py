"""The `swarm` object: how a round chose its answer, as one typed model.

The coordinator builds a `SwarmResult` and signs it as the round's `result`
message (phase 7); the reply to the client is the same object plus the log's
digest and the phase times (`SwarmReply`, phase 8); the node's `rounds` table
keeps a `StoredRound`. The log reader, `swarm verify`, the CLI, the audit and
the tests all parse these models; nothing reads the object by string keys.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from reputation.messages import MethodResult

__all__ = [
    "CandidateScore",
    "CopyFlag",
    "DecidedBy",
    "FailedRound",
    "JudgeSummary",
    "LeftOut",
    "Parameters",
    "SettledRound",
    "StoredRound",
    "SwarmReply",
    "SwarmResult",
    "VerificationOutcome",
    "VerificationStatus",
    "VerifierVote",
    "Winner",
]

VerificationStatus = Literal["passed", "failed", "unverified", "not_requested"]
DecidedBy = Literal["judges", "agreement", "single"]


def topic_key(source: str, topic: str) -> str:
    """ "" without a topic, else "client:<category>" or "inferred:<cluster>"."""
    return f"{source}:{topic}" if source and topic else ""


class Model(BaseModel):
    # Fields a later version adds are ignored when an older one reads a stored round.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Winner(Model):
    candidate: int
    node: str
    """The first author of the winning text."""
    digest: str
    """keccak of the winning text (UTF-8)."""
    verification: VerificationStatus


class CandidateScore(Model):
    candidate: int
    node: str
    """The candidate's first author."""
    nodes: list[str]
    """Every author of this (near-)identical text."""
    digest: str
    score: float
    """Bradley–Terry score (0 when no judge ranked the round)."""
    stderr: float
    """Laplace standard error of the score."""
    interval: tuple[float, float]
    """95% interval, score ± 1.96·stderr."""
    answers: list[str]
    """Digests of the signed answers this candidate stands for."""


class JudgeSummary(Model):
    node: str
    verdicts: int
    prior: tuple[float, float] = (0.0, 0.0)
    """The judge's record the round started from: (agreed, disagreed) verdict weight
    (`reputation.records`), η's prior."""
    reliability: float
    """η estimated in this round (CrowdBT), its prior from the judge's record."""
    agreed: float
    """Verdict weight that agreed with this round's consensus (feeds later rounds)."""
    disagreed: float


class VerifierVote(Model):
    node: str
    passed: bool
    results: list[MethodResult] = []
    """Each method's result, as the verifier signed it (for a refusal, one `refusal`)."""
    refused: str | None = None
    """The verifier refused the claim itself (e.g. `model_mismatch`) in a signed refusal:
    a failed vote."""


class VerificationOutcome(Model):
    candidate: int
    node: str
    answer: str
    """Digest of the signed answer verified."""
    status: Literal["passed", "failed", "unverified"]
    methods: list[str]
    copy_flagged: bool = False
    verifiers: list[VerifierVote] = []


class CopyFlag(Model):
    """An answer near another node's earlier answer, or replaying an answer to another
    prompt (`verification.index`): evidence, not exclusion."""

    node: str
    answer: str
    similarity: float
    kind: str
    of: str
    of_node: str
    of_round: str
    conflicts: int


class LeftOut(Model):
    node: str
    phase: str
    reason: str


class Parameters(Model):
    """The coordinator's settings its round's seeded choices were made with
    (`reputation.draws`), signed with the result so an auditor re-draws with them."""

    pairs_per_candidate: Annotated[int, Field(ge=1, le=64)]
    verify: bool
    verifiers: Annotated[int, Field(ge=1, le=3)]
    """Verifiers drawn per candidate checked."""
    sample_rate: Annotated[float, Field(ge=0.0, le=1.0)]
    """Share of the non-winning candidates also verified."""
    reexecute: Literal["always", "decisive", "never"]


class SwarmResult(Model):
    """The payload of a round's signed `result` message."""

    round_id: str
    coordinator: str
    announce: str
    """Digest of the round's signed announcement."""
    prompt_hash: str
    winner: Winner
    candidates: list[CandidateScore]
    decided_by: DecidedBy
    """`judges` (BT over verdicts), `agreement` (no neutral judge: most authors won) or
    `single` (one candidate)."""
    verification: list[VerificationOutcome] = []
    judges: list[JudgeSummary] = []
    copies: list[list[str]] = []
    copy_flags: list[CopyFlag] = []
    left_out: list[LeftOut] = []
    topic: str = ""
    """The round's topic, as announced (the client's category or an inferred one)."""
    topic_source: Literal["", "client", "inferred"] = ""
    parameters: Parameters | None = None
    """None in the results of versions before the audit."""

    def topic_key(self) -> str:
        """The key of the judges' records this round adds to (`reputation.records`)."""
        return topic_key(self.topic_source, self.topic)

    def candidate(self, index: int) -> CandidateScore:
        return next(c for c in self.candidates if c.candidate == index)


class SwarmReply(SwarmResult):
    """The `swarm` object of a reply: the signed result, the coordinator's log digest
    after appending it, and the phase times."""

    log_digest: str
    timings: dict[str, float] = {}


class SettledRound(Model):
    swarm: SwarmReply
    text: str
    finish_reason: str


class FailedRound(Model):
    error: str
    code: str = "too_few_nodes"
    left_out: list[LeftOut] = []


class StoredRound(Model):
    """A row of the log's `rounds` table (`GET /v1/rounds/{round_id}`)."""

    round_id: str
    coordinator: str
    created: float
    status: Literal["ok", "failed"]
    winner: str | None
    result: Annotated[SettledRound | FailedRound, Field(union_mode="left_to_right")]
