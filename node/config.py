"""Typed node configuration.

One dataclass per concern; every field has a default and a docstring. A TOML
file, the environment and CLI flags all map onto the same fields:

    [server]            SWARM_SERVER__PORT=8001        --port 8001
    port = 8001

Environment variables are `SWARM_<SECTION>__<FIELD>` (upper case). Peers are a
TOML array of tables `[[peers]]` with `address` and `url`. Validation lives
here, so a bad value fails at start with a `ConfigError` naming the field.
"""

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.errors import ConfigError

__all__ = [
    "IdentityConfig",
    "InferenceConfig",
    "NodeConfig",
    "PeerConfig",
    "RoundConfig",
    "SamplingConfig",
    "ServerConfig",
    "VerificationConfig",
    "load_config",
]


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = 8000
    """TCP port; 0 picks a free one."""
    max_body_bytes: int = 1_000_000
    """Larger request bodies are refused with 413 before they are read."""

    def __post_init__(self) -> None:
        _check(0 <= self.port <= 65535, "server.port must be 0..65535")
        _check(self.max_body_bytes >= 1024, "server.max_body_bytes must be at least 1024")


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

    def __post_init__(self) -> None:
        _check(self.backend in ("vllm", "openai"), "inference.backend must be vllm or openai")
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
    answer_timeout: float = 180.0
    """Seconds to wait for a peer's answer."""
    judge_timeout: float = 60.0
    """Seconds to wait for a peer's verdicts."""
    max_prompt_chars: int = 16_000
    """Larger conversations are refused with 400."""
    message_max_age: float = 120.0
    """Peer messages whose timestamp is further than this from now are refused."""
    peer_concurrency: int = 16
    """Requests in flight to peers at once."""

    def __post_init__(self) -> None:
        _check(self.max_participants >= 1, "round.max_participants must be at least 1")
        _check(self.min_answers >= 1, "round.min_answers must be at least 1")
        _check(self.pairs_per_candidate >= 1, "round.pairs_per_candidate must be at least 1")
        _check(self.answer_timeout > 0 and self.judge_timeout > 0, "round timeouts must be > 0")
        _check(self.max_prompt_chars >= 1, "round.max_prompt_chars must be at least 1")
        _check(self.peer_concurrency >= 1, "round.peer_concurrency must be at least 1")


@dataclass
class VerificationConfig:
    """Phase 6 of a round (see `node.verify_phase`)."""

    enabled: bool = True
    """Verify the winner (and sampled others) before replying."""
    verifiers: int = 3
    """Up to this many nodes, none an author of the answer, check it; the majority decides."""
    sample_rate: float = 0.0
    """Share of the non-winning candidates verified too (their outcomes are recorded)."""
    reexecute_sampled: bool = True
    """Also re-execute sampled answers with their declared seed (costs one generation per
    verifier); greedy answers get the teacher-forced check only."""
    timeout: float = 120.0
    """Seconds to wait for a verifier; one that does not answer is left out."""
    copy_index_size: int = 10_000
    """Recent answers kept in the LSH copy index (rebuilt from the log at start)."""

    def __post_init__(self) -> None:
        _check(1 <= self.verifiers <= 3, "verification.verifiers must be 1..3")
        _check(0.0 <= self.sample_rate <= 1.0, "verification.sample_rate must be 0..1")
        _check(self.timeout > 0, "verification.timeout must be > 0")
        _check(self.copy_index_size >= 1, "verification.copy_index_size must be at least 1")


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
    peers: list[PeerConfig] = field(default_factory=list)
    """Static peers (the chain registry replaces this later)."""
    log_path: str = "consensus.db"
    """Consensus log file (relative paths are relative to the config file)."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and kind in (int, float):
        try:
            return kind(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from exc
    if kind in (int, float, str, bool) and (
        not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _build(cls: Any, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kind = hints[name]
        here = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, value, here)
        elif typing.get_origin(kind) is list:
            (item,) = typing.get_args(kind)
            if not isinstance(value, list):
                raise ConfigError(f"{here}: expected a list")
            kwargs[name] = [_build(item, v, f"{here}[{i}]") for i, v in enumerate(value)]
        elif isinstance(kind, types.UnionType):
            kwargs[name] = value
        else:
            kwargs[name] = _coerce(value, kind, here)
    return cls(**kwargs)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith("SWARM_") or "__" not in key:
            continue
        section, _, name = key[len("SWARM_") :].lower().partition("__")
        out.setdefault(section, {})[name] = value
    return out


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> NodeConfig:
    """File, then environment, then `overrides` (CLI flags), each over the last.

    Relative paths in the file (keystore, log) are made relative to its folder.
    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        base = path.resolve().parent
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"no config file at {path}") from exc
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    data = _merge(data, _from_env(os.environ if env is None else env))
    data = _merge(data, overrides or {})
    config: NodeConfig = _build(NodeConfig, data, "")
    config.identity.keystore = str(base / config.identity.keystore)
    config.log_path = str(base / config.log_path)
    if _looks_like_path(config.inference.model):
        config.inference.model = str(base / config.inference.model)
    return config


def _looks_like_path(model: str) -> bool:
    return "/" in model or model.startswith(".")
