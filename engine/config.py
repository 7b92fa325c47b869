"""The configuration tree: frozen dataclasses with documented defaults.

Resolved once in ``main`` from, in increasing priority: the defaults below, a TOML file,
environment variables ``TINGSHUO_<SECTION>__<FIELD>`` (``__`` separates levels, e.g.
``TINGSHUO_ASR__BACKEND=paraformer``), and ``--set section.field=value`` CLI overrides.
Nothing here runs at import time beyond class definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tingshuo.asr.config import ASRConfig
from tingshuo.core.config import ConfigError, resolve
from tingshuo.core.paths import default_cache_dir
from tingshuo.dialog.config import DialogConfig
from tingshuo.tts.config import TTSConfig

__all__ = ["ConfigError", "EngineConfig", "SecurityConfig", "ServerConfig", "load_config"]


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
    # admission control (docs/protocol.md "Overload"): model jobs queued ahead beyond which new
    # dialogue replies are refused with an `overloaded` event (callers never block on it)
    max_pending: int = 64
    max_queued_requests: int = 4  # queued jobs ahead of a new HTTP model request → 503
    max_queue_wait_s: float = 10.0  # estimated queue wait beyond which HTTP gets 503 (0: off)
    max_requests_in_flight: int = 8  # HTTP model requests running at once; more → 503 (0: off)
    # workers that take only final decodes and reply work, so those never wait for an HTTP
    # segment, a partial or a job to finish (capped at workers - 1)
    reserved_workers: int = 1
    # partials and background jobs wait while a final decode or reply work runs (each model
    # call uses all cores: side by side, the final would take longer; BENCHMARKS.md)
    low_priority_yields: bool = True
    request_timeout_s: float = 120.0  # an HTTP model request's deadline → 504 (0: none)
    outbound_queue: int = 256  # server events queued per session before its producer waits
    slow_reader_timeout_s: float = 15.0  # a producer waiting this long ends the session
    reply_frame_ms: int = 100  # reply audio per binary frame
    download_ttl_s: float = 3600.0  # synthesized files expire after this long
    jobs_db: str = ""  # SQLite job store; empty: <cache>/jobs.sqlite3
    job_workers: int = 1  # jobs run concurrently here (with redis_url, 0: only `tingshuo worker`s)
    # with redis_url (arq): the longest a job may run; a dead worker's job reruns after this + 10 s
    job_timeout_s: float = 600.0
    job_max_tries: int = 3  # with redis_url: tries of one job (timeouts, dead workers)
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
    log_format: str = "text"  # text | json (one object per line, with session/request ids)
    server: ServerConfig = field(default_factory=ServerConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    asr: ASRConfig = field(default_factory=ASRConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    dialog: DialogConfig = field(default_factory=DialogConfig)


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
) -> EngineConfig:
    """Resolve the configuration: defaults < TOML file < environment < ``key=value`` overrides."""
    return resolve(EngineConfig, path, env, overrides)


def cache_root(config: EngineConfig) -> Path:
    """The configured cache directory, or the default one."""
    return default_cache_dir(config.cache_dir)


def recognizer_config(config: EngineConfig) -> ASRConfig:
    """The ``[asr]`` section every entry point builds its recognizer from.

    With ``asr.kb_hotwords`` the knowledge base's ``hotwords`` list is added to
    ``asr.hotwords``, so the CLI, the HTTP endpoints, jobs and both WebSocket protocols
    decode with the same hotwords.
    """
    if not config.asr.kb_hotwords:
        return config.asr
    from dataclasses import replace

    from tingshuo.dialog.knowledge_base import KnowledgeBase

    words = [
        *config.asr.hotwords.split(),
        *KnowledgeBase.hotwords_of(config.dialog.knowledge_base or None),
    ]
    return replace(config.asr, hotwords=" ".join(dict.fromkeys(words)))
