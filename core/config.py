"""The configuration loader: TOML file < environment < ``key=value`` overrides, into a tree of
frozen dataclasses.

Generic over the root dataclass, so each layer declares only its own section
(``asr.config.ASRConfig``, ``tts.config.TTSConfig``, ...) and the engine composes the root.
Environment variables are ``<PREFIX><SECTION>__<FIELD>`` (``__`` separates levels).
Nothing here runs at import time beyond definitions.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

ENV_PREFIX = "TINGSHUO_"

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file, env var or override that does not fit the config tree."""


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert a TOML/env value to the field's annotated type."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return _build(typing.cast(type, hint), value, where)
    if origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args, strict=True))
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where}: expected a boolean, got {value!r}")
    if hint in (int, float, str):
        try:
            return hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}") from None
    return value


def _build(cls: type, data: Mapping[str, Any], where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown config key(s) {sorted(unknown)} in [{where or 'root'}]")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}".strip(".")) for k, v in data.items()}
    return cls(**kwargs)


def _merge(base: dict[str, Any], path: list[str], value: Any) -> None:
    node = base
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{'.'.join(path)}: {key} is not a table")
    node[path[-1]] = value


def _parse_scalar(text: str) -> Any:
    """Parse an override value as TOML when it is one (numbers, booleans, lists), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def resolve(
    root: type[T],
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
    env_prefix: str = ENV_PREFIX,
) -> T:
    """Build ``root`` (a frozen dataclass) from defaults < TOML file < environment < overrides.

    Raises :class:`ConfigError` naming the offending file, key or value.
    """
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    env = os.environ if env is None else env
    top_level = {f.name for f in dataclasses.fields(root) if not dataclasses.is_dataclass(f.type)}  # type: ignore[arg-type]
    for key, raw in env.items():
        name = key[len(env_prefix) :].lower()
        # PREFIX_SECTION__FIELD, or a top-level scalar such as TINGSHUO_CACHE_DIR;
        # other PREFIX_* variables (secrets, paths for tests) are not config keys.
        if key.startswith(env_prefix) and ("__" in name or name in top_level):
            _merge(data, name.split("__"), _parse_scalar(raw))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        dotted, raw = item.split("=", 1)
        _merge(data, dotted.strip().split("."), _parse_scalar(raw.strip()))
    built: T = _build(root, data)
    return built
