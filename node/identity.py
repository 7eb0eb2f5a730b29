"""A node's identity: an Ethereum account in an encrypted keystore file.

The node id is the account's checksum address. Keystores are the standard
Web3 Secret Storage JSON that eth-account writes (scrypt by default); the
password comes from an environment variable named in the config.
"""

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account

from node.errors import ConfigError

__all__ = ["create_keystore", "load_keystore", "load_or_create"]


def create_keystore(path: str | Path, password: str, kdf_iterations: int | None = None) -> Any:
    """Create a new account, write its keystore (mode 0600) and return the account.

    `kdf_iterations` lowers the scrypt cost; only the local test swarm uses it.
    """
    path = Path(path)
    if path.exists():
        raise ConfigError(f"{path} already exists; refusing to overwrite a key")
    if not password:
        raise ConfigError("a keystore needs a non-empty password")
    account = Account.create()
    keystore = Account.encrypt(account.key, password, iterations=kdf_iterations)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keystore, handle)
    return account


def load_keystore(path: str | Path, password: str) -> Any:
    path = Path(path)
    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"no keystore at {path}; create one with `swarm keys new`") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable keystore {path}: {exc}") from exc
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        raise ConfigError(f"cannot decrypt {path}: wrong password?") from exc
    return Account.from_key(key)


def load_or_create(path: str | Path, password: str, kdf_iterations: int | None = None) -> Any:
    if Path(path).exists():
        return load_keystore(path, password)
    return create_keystore(path, password, kdf_iterations)
