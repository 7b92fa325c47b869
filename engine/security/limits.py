"""The engine's rate limits and connection cap, built from ``SecurityConfig``.

The server holds one :class:`RateLimiter` and one :class:`ConnectionCap`:

* HTTP: ``await limiter.check_request(principal_id, ip)`` before each request.
* WebSocket: ``async with limiter.session(principal_id, ip):`` around a session, and
  ``await limiter.charge_audio(principal_id, ip, seconds)`` as audio arrives.
* ``cap.try_acquire()`` / ``cap.release()`` (or ``with cap.hold():``) around every connection.

Per-key limits apply to authenticated callers; per-address limits apply to everyone (with auth
off, all callers share the anonymous key, so only the per-address limits make sense there).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from tingshuo.engine.security.auth import ANONYMOUS
from tingshuo.engine.security.buckets import Bucket, LimitStore, MemoryLimitStore, Slot
from tingshuo.engine.security.errors import (
    CAPACITY_FULL,
    RATE_AUDIO,
    RATE_REQUESTS,
    RATE_SESSIONS,
    CapacityError,
    RateLimitError,
)

LEASE_MARGIN_S = 60.0  # a session lease outlives session_timeout_s by this much


def build_limit_store(redis_url: str = "") -> LimitStore:
    """The Redis store when ``redis_url`` is set, else the in-process one."""
    if redis_url:
        from tingshuo.engine.security.redis_store import RedisLimitStore

        return RedisLimitStore(redis_url)
    return MemoryLimitStore()


class RateLimiter:
    """Per-key and per-address token buckets and concurrent-session slots."""

    def __init__(
        self,
        store: LimitStore,
        requests_per_min: float,
        requests_per_min_per_ip: float,
        audio_s_per_min: float,
        audio_s_per_min_per_ip: float,
        sessions_per_key: int,
        sessions_per_ip: int,
        session_timeout_s: float,
    ) -> None:
        self.store = store
        self.requests_per_min = requests_per_min
        self.requests_per_min_per_ip = requests_per_min_per_ip
        self.audio_s_per_min = audio_s_per_min
        self.audio_s_per_min_per_ip = audio_s_per_min_per_ip
        self.sessions_per_key = sessions_per_key
        self.sessions_per_ip = sessions_per_ip
        self.lease_ttl_s = session_timeout_s + LEASE_MARGIN_S

    @classmethod
    def from_config(cls, security: object, store: LimitStore) -> RateLimiter:
        """Build from a :class:`engine.config.SecurityConfig`."""
        s = security
        return cls(
            store,
            s.http_requests_per_min,  # type: ignore[attr-defined]
            s.http_requests_per_min_per_ip,  # type: ignore[attr-defined]
            s.audio_seconds_per_min,  # type: ignore[attr-defined]
            s.audio_seconds_per_min_per_ip,  # type: ignore[attr-defined]
            s.max_sessions_per_key,  # type: ignore[attr-defined]
            s.max_sessions_per_ip,  # type: ignore[attr-defined]
            s.session_timeout_s,  # type: ignore[attr-defined]
        )

    @staticmethod
    def _buckets(kind: str, principal: str, ip: str, per_key: float, per_ip: float) -> list[Bucket]:
        buckets = []
        if principal != ANONYMOUS and per_key > 0:
            buckets.append(Bucket.per_minute(f"{kind}:key:{principal}", per_key))
        if per_ip > 0:
            buckets.append(Bucket.per_minute(f"{kind}:ip:{ip}", per_ip))
        return buckets

    async def check_request(self, principal: str, ip: str) -> None:
        """Spend one HTTP request; :class:`RateLimitError` (rate.requests) when over."""
        buckets = self._buckets(
            "req", principal, ip, self.requests_per_min, self.requests_per_min_per_ip
        )
        if buckets:
            result = await self.store.take(buckets, 1.0)
            if not result.allowed:
                raise RateLimitError(
                    RATE_REQUESTS, "too many requests", retry_after=result.retry_after
                )

    async def charge_audio(self, principal: str, ip: str, seconds: float) -> None:
        """Spend ``seconds`` of audio; :class:`RateLimitError` (rate.audio) when over."""
        buckets = self._buckets(
            "audio", principal, ip, self.audio_s_per_min, self.audio_s_per_min_per_ip
        )
        if buckets and seconds > 0:
            result = await self.store.take(buckets, float(seconds))
            if not result.allowed:
                raise RateLimitError(
                    RATE_AUDIO, "too much audio per minute", retry_after=result.retry_after
                )

    def _slots(self, principal: str, ip: str) -> list[Slot]:
        slots = []
        if principal != ANONYMOUS and self.sessions_per_key > 0:
            slots.append(Slot(f"sess:key:{principal}", self.sessions_per_key))
        if self.sessions_per_ip > 0:
            slots.append(Slot(f"sess:ip:{ip}", self.sessions_per_ip))
        return slots

    @asynccontextmanager
    async def session(self, principal: str, ip: str) -> AsyncIterator[str]:
        """Hold a concurrent-session place for the ``with`` block (rate.sessions when full)."""
        slots = self._slots(principal, ip)
        lease = secrets.token_hex(8)
        full = await self.store.acquire(slots, lease, self.lease_ttl_s)
        if full is not None:
            raise RateLimitError(RATE_SESSIONS, "too many concurrent sessions", retry_after=1.0)
        try:
            yield lease
        finally:
            await self.store.release(slots, lease)

    async def open_session(self, principal: str, ip: str) -> tuple[list[Slot], str]:
        """Take a concurrent-session place; pair with :meth:`close_session` (rate.sessions)."""
        slots = self._slots(principal, ip)
        lease = secrets.token_hex(8)
        if await self.store.acquire(slots, lease, self.lease_ttl_s) is not None:
            raise RateLimitError(RATE_SESSIONS, "too many concurrent sessions", retry_after=1.0)
        return slots, lease

    async def close_session(self, handle: tuple[list[Slot], str]) -> None:
        """Give back a place taken with :meth:`open_session`."""
        await self.store.release(*handle)


class AudioMeter:
    """Charges streamed audio to the audio buckets in steps of ``step_s`` (fewer store calls)."""

    def __init__(self, limiter: RateLimiter, principal: str, ip: str, step_s: float = 1.0):
        self.limiter, self.principal, self.ip, self.step_s = limiter, principal, ip, step_s
        self.pending = 0.0
        self.total = 0.0

    async def add(self, seconds: float) -> None:
        """Count ``seconds`` of audio; :class:`RateLimitError` (rate.audio) when over the limit."""
        self.pending += seconds
        self.total += seconds
        if self.pending >= self.step_s:
            charge, self.pending = self.pending, 0.0
            await self.limiter.charge_audio(self.principal, self.ip, charge)


class ConnectionCap:
    """A server-wide cap on open connections in this process (never blocks: refuses)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def try_acquire(self) -> None:
        """Take a place, or raise :class:`CapacityError` (capacity.full)."""
        if self.limit > 0 and self.active >= self.limit:
            raise CapacityError(CAPACITY_FULL, f"server is at its cap of {self.limit} connections")
        self.active += 1

    def release(self) -> None:
        """Give back a place taken with :meth:`try_acquire`."""
        self.active = max(0, self.active - 1)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """``with cap.hold():`` around a connection."""
        self.try_acquire()
        try:
            yield
        finally:
            self.release()
