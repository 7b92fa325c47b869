"""The configuration tree: frozen dataclasses with documented defaults.

Resolved once in ``main`` from, in increasing priority: the defaults below, a TOML file,
environment variables ``TINGSHUO_<SECTION>__<FIELD>`` (``__`` separates levels, e.g.
``TINGSHUO_ASR__BACKEND=paraformer``), and ``--set section.field=value`` CLI overrides.
Nothing here runs at import time beyond class definitions.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr.config import ASRConfig
from dialog.config import DialogConfig
from tts.config import TTSConfig

ENV_PREFIX = "TINGSHUO_"


class ConfigError(ValueError):
    """A config file, env var or override that does not fit the config tree."""


@dataclass(frozen=True)
class ServerConfig:
    """Network binding and worker pool."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2  # inference threads
    max_batch: int = 4
    max_wait_ms: int = 10
    shutdown_timeout_s: float = 10.0
    public_url: str = ""  # base for download URLs; empty: from the request
    max_pending: int = 64  # inference calls allowed to wait for a worker before callers block
    outbound_queue: int = 256  # server events queued per session before its producer waits
    slow_reader_timeout_s: float = 15.0  # a producer waiting this long ends the session
    reply_frame_ms: int = 100  # reply audio per binary frame
    download_ttl_s: float = 3600.0  # synthesized files expire after this long
    jobs_db: str = ""  # SQLite job store; empty: <cache>/jobs.sqlite3
    job_workers: int = 1  # long-text jobs synthesized concurrently
    webhook_retries: int = 5  # delivery attempts after the first failure
    webhook_backoff_s: float = 1.0  # first retry delay; doubles each time
    webhook_timeout_s: float = 10.0
    warmup: bool = True  # run one recognition and one synthesis before reporting ready


@dataclass(frozen=True)
class SecurityConfig:
    """Authentication, origins and limits (see docs/security.md)."""

    auth: bool = False  # may be off only on a loopback bind
    api_key_hashes: tuple[str, ...] = ()  # sha256 hex of each accepted key
    allowed_origins: tuple[str, ...] = ()  # exact Origin values; empty: same-host only
    max_sessions: int = 64
    max_ws_message_bytes: int = 1 << 20
    max_upload_bytes: int = 25 << 20
    max_text_chars: int = 5000
    idle_timeout_s: float = 60.0
    session_timeout_s: float = 3600.0
    http_requests_per_min: int = 600
    audio_seconds_per_min: float = 600.0
    # --- added by the security area (engine/security/) ---
    token_secret: str = (
        ""  # HMAC key for browser tokens; empty: random per process (set it when scaled out)
    )
    token_ttl_s: float = 300.0  # lifetime of a token from POST /api/token
    http_requests_per_min_per_ip: int = 1200  # per client address, all keys together
    audio_seconds_per_min_per_ip: float = 1200.0
    max_sessions_per_key: int = 16  # concurrent WebSocket sessions per key (0: no limit)
    max_sessions_per_ip: int = 16  # concurrent WebSocket sessions per address (0: no limit)
    max_frame_bytes: int = 192_000  # one binary audio frame (2 s of 48 kHz PCM16)
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client
    allow_private_webhooks: bool = False  # with auth on, refuse webhooks to private/loopback hosts
    model_timeout_s: float = 60.0  # a model call (or synthesis chunk) taking longer fails (0: none)


@dataclass(frozen=True)
class EngineConfig:
    """Root of the configuration tree."""

    cache_dir: str = ""  # empty: $TINGSHUO_CACHE_DIR or ~/.cache/tingshuo
    redis_url: str = ""
    log_level: str = "INFO"
    server: ServerConfig = field(default_factory=ServerConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    asr: ASRConfig = field(default_factory=ASRConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    dialog: DialogConfig = field(default_factory=DialogConfig)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert a TOML/env value to the field's annotated type."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return _build(hint, value, where)
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


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
) -> EngineConfig:
    """Resolve the configuration: defaults < TOML file < environment < ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    env = os.environ if env is None else env
    top_level = {
        f.name for f in dataclasses.fields(EngineConfig) if not dataclasses.is_dataclass(f.type)
    }
    for key, raw in env.items():
        name = key[len(ENV_PREFIX) :].lower()
        # TINGSHUO_SECTION__FIELD, or a top-level scalar such as TINGSHUO_CACHE_DIR;
        # other TINGSHUO_* variables (secrets, paths for tests) are not config keys.
        if key.startswith(ENV_PREFIX) and ("__" in name or name in top_level):
            _merge(data, name.split("__"), _parse_scalar(raw))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        dotted, raw = item.split("=", 1)
        _merge(data, dotted.strip().split("."), _parse_scalar(raw.strip()))
    return _build(EngineConfig, data)


def cache_root(config: EngineConfig) -> Path:
    """The configured cache directory, or the default one."""
    from engine.paths import default_cache_dir

    return Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
