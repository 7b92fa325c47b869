"""The Redis-backed :class:`~engine.security.buckets.LimitStore`: limits shared by replicas.

Each operation is one Lua script, which Redis runs atomically, so two engine processes
taking from the same bucket can never both spend the last token. Time comes from the Redis
server (``TIME``), so replicas with skewed clocks still agree. Keys carry a prefix and expire
once idle, so nothing accumulates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tingshuo.engine.security.buckets import Bucket, Slot, TakeResult

# KEYS: bucket keys. ARGV: cost, then (capacity, refill_per_s) per key.
# Returns {allowed (0/1), index of refusing key (1-based, 0 if none), retry_after as string}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local levels = {}
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local b = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(b[1])
  local ts = tonumber(b[2])
  if tokens == nil or ts == nil then tokens = cap; ts = now end
  tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
  if tokens < cost then
    local wait = -1
    if rate > 0 then wait = (cost - tokens) / rate end
    return {0, i, tostring(wait)}
  end
  levels[i] = tokens
end
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 'tokens', tostring(levels[i] - cost), 'ts', tostring(now))
  local ttl = 60000
  if rate > 0 then ttl = math.ceil(cap / rate * 1000) + 1000 end
  redis.call('PEXPIRE', key, ttl)
end
return {1, 0, '0'}
"""

# KEYS: slot keys (sorted sets lease -> expiry). ARGV: lease id, ttl_s, then limit per key.
# Returns 0 on success, else the 1-based index of the full slot.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = ARGV[1]
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local limit = tonumber(ARGV[2 + i])
  if limit > 0 and redis.call('ZSCORE', key, lease) == false
     and redis.call('ZCARD', key) >= limit then
    return i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, lease)
  redis.call('PEXPIRE', key, math.ceil(ttl * 1000) + 1000)
end
return 0
"""


class RedisLimitStore:
    """Token buckets and leases in Redis, shared by every engine process using ``url``."""

    def __init__(self, url: str, prefix: str = "tingshuo:limits:", client: Any = None) -> None:
        import redis.asyncio as aioredis  # lazy: only when Redis is configured

        self._redis = client or aioredis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE)
        self._acquire = self._redis.register_script(_ACQUIRE)

    async def take(self, buckets: Sequence[Bucket], cost: float) -> TakeResult:
        keys = [self._prefix + "b:" + b.key for b in buckets]
        args: list[float] = [float(cost)]
        for b in buckets:
            args += [float(b.capacity), float(b.refill_per_s)]
        allowed, index, wait = await self._take(keys=keys, args=args)
        if int(allowed):
            return TakeResult(True)
        retry = float(wait)
        return TakeResult(False, math.inf if retry < 0 else retry, buckets[int(index) - 1].key)

    async def acquire(self, slots: Sequence[Slot], lease_id: str, ttl_s: float) -> str | None:
        keys = [self._prefix + "s:" + s.key for s in slots]
        args: list[str | float] = [lease_id, float(ttl_s), *(s.limit for s in slots)]
        full = int(await self._acquire(keys=keys, args=args))
        return slots[full - 1].key if full else None

    async def release(self, slots: Sequence[Slot], lease_id: str) -> None:
        if not slots:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for s in slots:
                pipe.zrem(self._prefix + "s:" + s.key, lease_id)
            await pipe.execute()

    async def held(self, key: str) -> int:
        """Leases currently held under ``key`` (for tests and metrics)."""
        import time

        return int(await self._redis.zcount(self._prefix + "s:" + key, time.time(), "+inf"))

    async def close(self) -> None:
        await self._redis.aclose()
