"""Token buckets and concurrency slots behind one small store interface.

A :class:`LimitStore` does two atomic things:

* ``take(buckets, cost)``: for each :class:`Bucket` (a key, a capacity and a refill rate),
  refill it for the time passed, and if *every* bucket holds ``cost`` tokens, take them from
  all of them; otherwise take nothing and say how long until the emptiest one could pay.
  This is the token bucket of Turner (1986) as used for traffic policing, checked for several
  keys (per API key and per client address) in one step.
* ``acquire(slots, lease_id, ttl_s)`` / ``release(slots, lease_id)``: hold one of ``limit``
  concurrent places under each key. Leases expire after ``ttl_s`` so a crashed replica cannot
  leak places forever.

:class:`MemoryLimitStore` keeps this in the process; :class:`engine.security.redis_store.RedisLimitStore`
keeps it in Redis (atomic Lua scripts) so replicas share one set of limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``capacity`` tokens, refilled at ``refill_per_s`` tokens per second."""

    key: str
    capacity: float
    refill_per_s: float

    @classmethod
    def per_minute(cls, key: str, amount: float) -> Bucket:
        """A bucket allowing ``amount`` per minute, with a burst of one minute's allowance."""
        return cls(key, float(amount), float(amount) / 60.0)


@dataclass(frozen=True)
class TakeResult:
    """Outcome of :meth:`LimitStore.take`."""

    allowed: bool
    retry_after: float = 0.0  # seconds until the refused take could succeed
    blocked_key: str = ""  # the bucket that refused


@dataclass(frozen=True)
class Slot:
    """A concurrency limit: at most ``limit`` leases held under ``key``."""

    key: str
    limit: int


class LimitStore(Protocol):
    """Where bucket levels and leases live (in-process or Redis)."""

    async def take(self, buckets: Sequence[Bucket], cost: float) -> TakeResult:
        """Take ``cost`` from every bucket, or from none."""
        ...

    async def acquire(self, slots: Sequence[Slot], lease_id: str, ttl_s: float) -> str | None:
        """Hold a place in every slot; return None on success, else the key that is full."""
        ...

    async def release(self, slots: Sequence[Slot], lease_id: str) -> None:
        """Give back a lease (idempotent)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryLimitStore:
    """The embedded store: dicts guarded by one lock, for a single engine process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (tokens, timestamp)
        self._leases: dict[str, dict[str, float]] = {}  # key -> {lease id: expiry}
        self._lock = asyncio.Lock()
        self._max_keys = max_keys

    def _level(self, bucket: Bucket, now: float) -> float:
        tokens, ts = self._levels.get(bucket.key, (bucket.capacity, now))
        return min(bucket.capacity, tokens + max(0.0, now - ts) * bucket.refill_per_s)

    def _prune(self, now: float) -> None:
        """Forget full buckets and empty lease sets so memory stays bounded."""
        if len(self._levels) > self._max_keys:
            self._levels = {k: (t, ts) for k, (t, ts) in self._levels.items() if now - ts < 60.0}
        for key in [k for k, v in self._leases.items() if not v]:
            del self._leases[key]

    async def take(self, buckets: Sequence[Bucket], cost: float) -> TakeResult:
        async with self._lock:
            now = self._clock()
            levels = [self._level(b, now) for b in buckets]
            for bucket, level in zip(buckets, levels, strict=True):
                if level < cost:
                    wait = (
                        (cost - level) / bucket.refill_per_s
                        if bucket.refill_per_s > 0
                        else float("inf")
                    )
                    return TakeResult(False, wait, bucket.key)
            for bucket, level in zip(buckets, levels, strict=True):
                self._levels[bucket.key] = (level - cost, now)
            self._prune(now)
            return TakeResult(True)

    async def acquire(self, slots: Sequence[Slot], lease_id: str, ttl_s: float) -> str | None:
        async with self._lock:
            now = self._clock()
            for slot in slots:
                held = self._leases.setdefault(slot.key, {})
                for lid in [lid for lid, exp in held.items() if exp <= now]:
                    del held[lid]
                if slot.limit > 0 and lease_id not in held and len(held) >= slot.limit:
                    self._prune(now)
                    return slot.key
            for slot in slots:
                self._leases[slot.key][lease_id] = now + ttl_s
            return None

    async def release(self, slots: Sequence[Slot], lease_id: str) -> None:
        async with self._lock:
            for slot in slots:
                self._leases.get(slot.key, {}).pop(lease_id, None)
            self._prune(self._clock())

    async def held(self, key: str) -> int:
        """Leases currently held under ``key`` (for tests and metrics)."""
        async with self._lock:
            now = self._clock()
            return sum(1 for exp in self._leases.get(key, {}).values() if exp > now)

    async def close(self) -> None:
        return None
