"""The node's configuration sections: one dataclass per concern, every field with a
default and a docstring, validation in `__post_init__` (a bad value fails at start
with a `ConfigError` naming the field). `node.config.load` fills them from a file,
the environment and flags.
"""

from dataclasses import dataclass, field

from node.errors import ConfigError
from node.inference.device import DTYPES

__all__ = [
    "ChainConfig",
    "IdentityConfig",
    "InferenceConfig",
    "NodeConfig",
    "PeerConfig",
    "RoundConfig",
    "SamplingConfig",
    "ServerConfig",
    "VerificationConfig",
]


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = 8000
    """TCP port; 0 picks a free one."""
    max_body_bytes: int = 1_000_000
    """Larger request bodies are refused with 413 before they are read."""
    public_url: str = ""
    """The URL peers reach this node at, registered on chain; default http://host:port."""
    audit_token: str = ""
    """A bearer token that lets an auditor read this node's log
    (`GET /swarm/v1/log/export`, `swarm audit --url`); empty: the export is off.
    Set it through the environment (`SWARM_SERVER__AUDIT_TOKEN`) rather than a file."""
    header_timeout: float = 20.0
    """Seconds a connection has to send a complete request head, from its opening or
    the end of the previous response; an idle keep-alive connection is closed after the
    same time (`node.api.connections`)."""
    body_timeout: float = 30.0
    """Seconds to receive a request's whole body once its head is in; slower is a 408."""
    max_connections: int = 512
    """Open client connections at most; one more closes the oldest idle connection,
    or, when every connection has a request in progress, is answered 503 and closed."""

    def __post_init__(self) -> None:
        _check(0 <= self.port <= 65535, "server.port must be 0..65535")
        _check(self.max_body_bytes >= 1024, "server.max_body_bytes must be at least 1024")
        _check(self.header_timeout > 0, "server.header_timeout must be > 0")
        _check(self.body_timeout > 0, "server.body_timeout must be > 0")
        _check(self.max_connections >= 1, "server.max_connections must be at least 1")
        _check(
            not self.public_url or self.public_url.startswith(("http://", "https://")),
            "server.public_url must be an http(s) URL",
        )


@dataclass
class IdentityConfig:
    keystore: str = "key.json"
    """Encrypted keystore file (relative paths are relative to the config file)."""
    password_env: str = "SWARM_KEY_PASSWORD"
    """Environment variable holding the keystore password."""


@dataclass
class InferenceConfig:
    backend: str = "vllm"
    """`vllm` (engine in this process) or `openai` (an OpenAI-compatible server)."""
    model: str = "smollm2-135m"
    """A model-store name (`swarm models pull NAME`) or a local model directory."""
    served_name: str = ""
    """Model id announced in answers; default: the store name or directory name.
    For the `openai` backend, the model name the server knows."""
    base_url: str = ""
    """`openai` backend: the server's base URL, e.g. http://127.0.0.1:8100/v1."""
    api_key_env: str = "OPENAI_API_KEY"
    """`openai` backend: environment variable with the API key (may be unset)."""
    max_model_len: int = 2048
    """`vllm` backend: context length the engine reserves for."""
    request_timeout: float = 300.0
    """`openai` backend: seconds before a request to the server is abandoned."""
    dtype: str = "auto"
    """`vllm` backend: `auto` computes in bfloat16 where the hardware does so natively and
    in float32 on CPUs without native bf16 (`node.inference.device`); or force
    `bfloat16`, `float32` or `float16`."""

    def __post_init__(self) -> None:
        _check(self.backend in ("vllm", "openai"), "inference.backend must be vllm or openai")
        _check(self.dtype in DTYPES, f"inference.dtype must be one of {', '.join(DTYPES)}")
        _check(
            self.backend != "openai" or bool(self.base_url),
            "inference.base_url is required with the openai backend",
        )
        _check(self.max_model_len >= 256, "inference.max_model_len must be at least 256")


@dataclass
class SamplingConfig:
    """How this node samples its answers; all of it goes in the signed answer."""

    temperature: float = 0.7
    """Sampling temperature; 0 is greedy."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    seed: int = 0
    """Base seed; the seed of a round's answer is derived from it and the round id."""
    max_tokens: int = 256
    """Upper bound on answer length, whatever the client asks."""

    def verification_risk(self) -> str | None:
        """Why honest answers at these settings often fail verification, if they do.
        Measured (benchmarks/RESULTS.md, "Verification: notes"): with no nucleus at T 1,
        42% of honest samples draw a token beyond the teacher-forced tolerance."""
        if self.temperature >= 0.9 and self.top_p > 0.95:
            return (
                f"sampling.temperature {self.temperature} with top_p {self.top_p}: honest "
                "answers at these settings often fail verification (a token drawn far "
                "from the argmax); top_p 0.95 or a lower temperature avoids it"
            )
        return None

    def __post_init__(self) -> None:
        _check(0.0 <= self.temperature <= 2.0, "sampling.temperature must be 0..2")
        _check(0.0 < self.top_p <= 1.0, "sampling.top_p must be in (0, 1]")
        _check(self.max_tokens >= 1, "sampling.max_tokens must be at least 1")


@dataclass
class RoundConfig:
    max_participants: int = 8
    """Nodes drawn to answer (and judge) one round."""
    min_answers: int = 2
    """Fewer answers than this fails the round."""
    pairs_per_candidate: int = 2
    """k: every candidate is in at least min(k, n−1) judged pairs."""
    answer_timeout: float = 0.0
    """Seconds to wait for a peer's answer; 0 scales it from this node's measured speed
    and the answer's length (`node.round.timeouts`)."""
    judge_timeout: float = 0.0
    """Seconds to wait for a judge's verdicts; 0 scales it from the measured speed and
    the round's judging work."""
    timeout_margin: float = 8.0
    """Scaled timeouts allow this many times the work's measured duration…"""
    timeout_floor: float = 30.0
    """…plus this many seconds."""
    max_prompt_chars: int = 16_000
    """Larger conversations are refused with 400."""
    message_max_age: float = 120.0
    """Peer messages whose timestamp is further than this from now are refused."""
    peer_concurrency: int = 16
    """Requests in flight to peers at once."""
    max_rounds_in_flight: int = 0
    """Client rounds this node coordinates at once; one more is refused at once with 429
    and `Retry-After`. 0 derives it from the engine speed measured at start: the rounds
    whose answers this engine can finish within one answer timeout
    (`node.serve.limits.derived_in_flight`)."""
    max_plain_in_flight: int = 0
    """Plain generations (the node's own model id, no round) at once; 0 derives it like
    `max_rounds_in_flight`."""
    max_peer_work: int = 0
    """Engine requests from other nodes (answer, judge, verify) served at once, all
    senders together; one more is refused at once with 429. 0 derives it:
    `max_participants` times the derived rounds in flight (`max_rounds_in_flight`'s
    derivation), what a network of nodes like this one, each at its own limit, draws
    this node into on average; no set of identities makes the engine do more."""
    peer_in_flight: int = 64
    """Requests one sender may have in flight at this node on one peer route (answer,
    judge, verify, cosign, calibrate); one more is refused with 429. At least what a
    peer coordinating its most rounds at once sends (`node.serve.limits.MAX_DERIVED`)."""
    peer_rate: float = 10.0
    """Requests per second one sender may make on one peer route, sustained…"""
    peer_burst: int = 128
    """…and at once after a quiet spell (a token bucket of this size)."""
    calibration_deadline: float = 300.0
    """Seconds a calibration candidate has to send its replies once it has its challenge
    (`node.serve.calibrate`): three times what a newcomer's whole calibration by three
    attesters took on a 2-core CPU with one shared engine (about 100 s)."""
    calibration_cooldown: float = 3600.0
    """Seconds a candidate whose calibration session failed (no replies in time, replies
    that do not fit, a failed score) may not open another session here."""

    def __post_init__(self) -> None:
        _check(self.max_participants >= 1, "round.max_participants must be at least 1")
        _check(self.min_answers >= 1, "round.min_answers must be at least 1")
        _check(self.pairs_per_candidate >= 1, "round.pairs_per_candidate must be at least 1")
        _check(self.answer_timeout >= 0 and self.judge_timeout >= 0, "round timeouts must be ≥ 0")
        _check(self.timeout_margin >= 1, "round.timeout_margin must be at least 1")
        _check(self.timeout_floor >= 0, "round.timeout_floor must be ≥ 0")
        _check(self.max_prompt_chars >= 1, "round.max_prompt_chars must be at least 1")
        _check(self.peer_concurrency >= 1, "round.peer_concurrency must be at least 1")
        _check(self.max_rounds_in_flight >= 0, "round.max_rounds_in_flight must be ≥ 0")
        _check(self.max_plain_in_flight >= 0, "round.max_plain_in_flight must be ≥ 0")
        _check(self.max_peer_work >= 0, "round.max_peer_work must be ≥ 0")
        _check(self.peer_in_flight >= 1, "round.peer_in_flight must be at least 1")
        _check(self.peer_rate > 0, "round.peer_rate must be positive")
        _check(self.peer_burst >= 1, "round.peer_burst must be at least 1")
        _check(self.calibration_deadline > 0, "round.calibration_deadline must be positive")
        _check(self.calibration_cooldown >= 0, "round.calibration_cooldown must be ≥ 0")


@dataclass
class VerificationConfig:
    """Phase 6 of a round (see `node.round.verifying`)."""

    enabled: bool = True
    """Verify the winner (and sampled others) before replying."""
    verifiers: int = 3
    """Up to this many nodes, none an author of the answer, check it; the majority decides."""
    sample_rate: float = 0.0
    """Share of the non-winning candidates verified too (their outcomes are recorded)."""
    reexecute: str = "decisive"
    """Re-executing a sampled answer (one generation per verifier) with its declared seed:
    `decisive` when its result can change the vote (a flagged copy, or tokens far from
    the model's argmax: `verification.policy`), `always`, or `never`. Greedy answers get
    the teacher-forced check only."""
    timeout: float = 0.0
    """Seconds to wait for a verifier (one that does not answer abstains); 0 scales it
    from the measured speed and the check's work."""
    copy_index_size: int = 10_000
    """Recent answers kept in the LSH copy index (rebuilt from the log at start)."""

    def __post_init__(self) -> None:
        _check(1 <= self.verifiers <= 3, "verification.verifiers must be 1..3")
        _check(0.0 <= self.sample_rate <= 1.0, "verification.sample_rate must be 0..1")
        _check(self.timeout >= 0, "verification.timeout must be ≥ 0")
        _check(
            self.reexecute in ("always", "decisive", "never"),
            "verification.reexecute must be always, decisive or never",
        )
        _check(self.copy_index_size >= 1, "verification.copy_index_size must be at least 1")


@dataclass
class ChainConfig:
    """The chain: registry, stake, commitments and settlements (`node.chain`)."""

    enabled: bool = True
    """Off: static peers only, nothing registered or committed (offline development)."""
    rpc_url: str = ""
    """The chain's JSON-RPC URL (e.g. what `swarm chain up` prints); empty: an embedded
    in-process chain of this process, with the contract deployed at start."""
    contract: str = ""
    """The deployed contract's address; required with `rpc_url`."""
    stake: float = 1.0
    """Ether locked at registration (at least the contract's minimum)."""
    batch_rounds: int = 16
    """A batch of rounds is committed once it holds this many rounds…"""
    batch_seconds: float = 60.0
    """…or once its oldest round is this many seconds old."""
    confirmations: int = 0
    """Blocks after the one that mined a transaction before it counts as done."""
    refresh_seconds: float = 10.0
    """How often the registry is read again for new or changed peers."""
    retry_seconds: float = 30.0
    """The longest wait between two attempts of a chain write (backoff doubles to it)."""
    start_timeout: float = 60.0
    """Seconds the node waits at start for its registration to be mined."""

    def __post_init__(self) -> None:
        _check(
            not self.rpc_url or self.rpc_url.startswith(("http://", "https://")),
            "chain.rpc_url must be an http(s) URL",
        )
        _check(
            not self.rpc_url or (self.contract.startswith("0x") and len(self.contract) == 42),
            "chain.contract (the deployed address) is required with chain.rpc_url",
        )
        _check(self.stake > 0, "chain.stake must be positive")
        _check(1 <= self.batch_rounds <= 256, "chain.batch_rounds must be 1..256")
        _check(self.batch_seconds > 0, "chain.batch_seconds must be positive")
        _check(self.confirmations >= 0, "chain.confirmations must be ≥ 0")
        _check(self.refresh_seconds > 0, "chain.refresh_seconds must be positive")
        _check(self.retry_seconds > 0, "chain.retry_seconds must be positive")
        _check(self.start_timeout > 0, "chain.start_timeout must be positive")

    @property
    def stake_wei(self) -> int:
        return round(self.stake * 10**18)


@dataclass
class PeerConfig:
    address: str = ""
    """The peer's node id (checksum address)."""
    url: str = ""
    """The peer's base URL, e.g. http://127.0.0.1:8001."""

    def __post_init__(self) -> None:
        _check(self.address.startswith("0x") and len(self.address) == 42, "peer address invalid")
        _check(self.url.startswith(("http://", "https://")), "peer url must be http(s)")


@dataclass
class NodeConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    """HTTP server."""
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    """Key file and its password."""
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    """Backend and model."""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    """This node's sampling."""
    round: RoundConfig = field(default_factory=RoundConfig)
    """Round protocol limits and timeouts."""
    verification: VerificationConfig = field(default_factory=VerificationConfig)
    """Checks on the winning answer."""
    chain: ChainConfig = field(default_factory=ChainConfig)
    """Registry, stake and commitments."""
    peers: list[PeerConfig] = field(default_factory=list)
    """Bootstrap peers, used besides the registry's members (and alone with the chain off)."""
    log_path: str = "consensus.db"
    """Consensus log file (relative paths are relative to the config file)."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
