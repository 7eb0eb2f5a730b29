"""Building a `NodeConfig` from a TOML file, the environment and CLI flags.

All three map onto the same fields:

    [server]            SWARM_SERVER__PORT=8001        --port 8001
    port = 8001

Environment variables are `SWARM_<SECTION>__<FIELD>` (upper case). Peers are a
TOML array of tables `[[peers]]` with `address` and `url`. Every command that
builds a node's config (`swarm node run`, `swarm up`) goes through `load_config`,
so the environment overrides the same fields everywhere.
"""

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from node.config.sections import NodeConfig
from node.errors import ConfigError

__all__ = ["load_config"]

RENAMED = {
    "verification.reexecute_sampled": "verification.reexecute (always, decisive or never)",
}
"""Settings that changed name, so an old config file gets a clear error, not a guess."""


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
    for name in sorted(unknown):
        if f"{where}.{name}" in RENAMED:
            raise ConfigError(f"{where}.{name} is now {RENAMED[f'{where}.{name}']}")
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
