"""A synthesis cache in Redis, shared by every engine replica (``redis_url`` set).

Drop-in for ``tts.cache.SynthesisCache`` where ``tts.cache.CachedSynthesizer`` uses it:
``get(key) -> Audio | None``, ``put(key, audio) -> bool``, ``stats()``, ``enabled``.
Keys are the same content hashes (``tts.cache.cache_key``), so an entry made by one replica
is a hit in every other. Each entry is one Redis hash ``{rate, samples}`` holding the exact
float32 samples; entries expire ``ttl_s`` after their last hit, and Redis's own
``maxmemory``/``allkeys-lru`` policy bounds the total (configure it on the Redis server).

Redis being unreachable is not an error for synthesis: the cache logs one warning, counts
the error, answers misses for ``retry_s`` and then tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from tingshuo.core.audio import Audio

log = logging.getLogger(__name__)


class RedisSynthesisCache:
    """Synthesized audio in Redis, keyed by content hash."""

    def __init__(
        self,
        url: str,
        prefix: str = "tingshuo:tts:",
        ttl_s: int = 7 * 24 * 3600,
        max_entry_bytes: int = 16 << 20,
        retry_s: float = 30.0,
        client: Any = None,
    ) -> None:
        import redis  # lazy: only when Redis is configured

        self._redis = client or redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._errors_cls = (redis.RedisError, OSError)
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_entry_bytes
        self.retry_s = retry_s
        self.hits = self.misses = self.stores = self.errors = 0
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False while Redis is considered down (after an error, for ``retry_s``)."""
        return time.monotonic() >= self._down_until

    def _failed(self, action: str, exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            was_up = self._down_until <= time.monotonic()
            self._down_until = time.monotonic() + self.retry_s
        if was_up:
            log.warning(
                "synthesis cache (redis) unavailable while %s: %s; synthesizing uncached, "
                "retrying in %.0f s",
                action,
                exc,
                self.retry_s,
            )

    def _count(self, attr: str) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + 1)

    def get(self, key: str) -> Audio | None:
        """The cached audio for ``key`` or ``None`` (refreshes the entry's expiry)."""
        if not self.enabled:
            return None
        name = self.prefix + key
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(name, ["rate", "samples"])
                pipe.expire(name, self.ttl_s)
                (rate, samples), _ = pipe.execute()
        except self._errors_cls as exc:
            self._failed("reading", exc)
            return None
        if rate is None or samples is None or len(samples) % 4:
            self._count("misses")
            return None
        self._count("hits")
        return Audio(np.frombuffer(samples, dtype="<f4").copy(), int(rate))

    def put(self, key: str, audio: Audio) -> bool:
        """Store ``audio`` under ``key``; ``False`` when too large or Redis is down."""
        if not self.enabled:
            return False
        data = np.ascontiguousarray(audio.samples, dtype="<f4").tobytes()
        if len(data) > self.max_entry_bytes:
            return False
        name = self.prefix + key
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(name, mapping={"rate": int(audio.sample_rate), "samples": data})
                pipe.expire(name, self.ttl_s)
                pipe.execute()
        except self._errors_cls as exc:
            self._failed("writing", exc)
            return False
        self._count("stores")
        return True

    def evict(self) -> int:
        """Eviction is Redis's (maxmemory policy and expiry); nothing to do here."""
        return 0

    def stats(self) -> dict[str, Any]:
        """Counters for metrics, as ``SynthesisCache.stats``."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "stores": self.stores,
                "evictions": 0,
                "errors": self.errors,
                "enabled": self.enabled,
            }

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()
