"""Typed node configuration: the sections (`node.config.sections`) and how a file,
the environment and flags fill them (`node.config.load`)."""

from node.config.load import load_config
from node.config.sections import (
    ChainConfig,
    IdentityConfig,
    InferenceConfig,
    NodeConfig,
    PeerConfig,
    RoundConfig,
    SamplingConfig,
    ServerConfig,
    VerificationConfig,
)

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
    "load_config",
]
