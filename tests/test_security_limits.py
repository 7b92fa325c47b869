"""RateLimiter (per key and per address) and the connection cap."""

from __future__ import annotations

import asyncio

import pytest

from tingshuo.engine.config import SecurityConfig
from tingshuo.engine.security.auth import ANONYMOUS
from tingshuo.engine.security.buckets import MemoryLimitStore
from tingshuo.engine.security.errors import (
    CAPACITY_FULL,
    RATE_AUDIO,
    RATE_REQUESTS,
    RATE_SESSIONS,
    CapacityError,
    RateLimitError,
)
from tingshuo.engine.security.limits import ConnectionCap, RateLimiter, build_limit_store
from tingshuo.engine.security.redis_store import RedisLimitStore


def _limiter(store=None, **fields) -> RateLimiter:
    config = SecurityConfig(**fields)
    return RateLimiter.from_config(config, store or MemoryLimitStore())


def test_requests_per_key_and_per_ip() -> None:
    limiter = _limiter(http_requests_per_min=5, http_requests_per_min_per_ip=8)

    async def main() -> None:
        for _ in range(5):
            await limiter.check_request("k_a", "1.1.1.1")
        with pytest.raises(RateLimitError) as err:
            await limiter.check_request("k_a", "2.2.2.2")  # key exhausted, any address
        assert err.value.code == RATE_REQUESTS and err.value.http_status == 429
        assert err.value.retry_after > 0
        assert err.value.to_dict()["retry_after"] > 0
        for _ in range(3):
            await limiter.check_request("k_b", "1.1.1.1")  # other key, same address
        with pytest.raises(RateLimitError):
            await limiter.check_request("k_c", "1.1.1.1")  # address exhausted (8)
        await limiter.check_request("k_c", "3.3.3.3")

    asyncio.run(main())


def test_anonymous_callers_are_limited_per_address_only() -> None:
    limiter = _limiter(http_requests_per_min=1, http_requests_per_min_per_ip=3)

    async def main() -> None:
        for _ in range(3):
            await limiter.check_request(ANONYMOUS, "1.1.1.1")
        with pytest.raises(RateLimitError):
            await limiter.check_request(ANONYMOUS, "1.1.1.1")
        await limiter.check_request(ANONYMOUS, "4.4.4.4")

    asyncio.run(main())


def test_audio_seconds_per_minute() -> None:
    limiter = _limiter(audio_seconds_per_min=10.0, audio_seconds_per_min_per_ip=100.0)

    async def main() -> None:
        for _ in range(50):
            await limiter.charge_audio("k_a", "1.1.1.1", 0.2)  # 10 s of 200 ms frames
        with pytest.raises(RateLimitError) as err:
            await limiter.charge_audio("k_a", "1.1.1.1", 0.2)
        assert err.value.code == RATE_AUDIO
        assert err.value.retry_after == pytest.approx(1.2, abs=0.1)  # 0.2 s at 10 s/min
        await limiter.charge_audio("k_a", "1.1.1.1", 0.0)  # nothing to charge

    asyncio.run(main())


def test_concurrent_sessions_are_limited_and_released_on_every_exit() -> None:
    store = MemoryLimitStore()
    limiter = _limiter(store, max_sessions_per_key=2, max_sessions_per_ip=3)

    async def main() -> None:
        async with limiter.session("k_a", "1.1.1.1"), limiter.session("k_a", "1.1.1.1"):
            with pytest.raises(RateLimitError) as err:
                async with limiter.session("k_a", "9.9.9.9"):
                    pass
            assert err.value.code == RATE_SESSIONS
            async with limiter.session("k_b", "1.1.1.1"):
                with pytest.raises(RateLimitError):
                    async with limiter.session("k_c", "1.1.1.1"):  # address full
                        pass
        with pytest.raises(ValueError):
            async with limiter.session("k_a", "1.1.1.1"):
                raise ValueError("session crashed")
        assert await store.held("sess:key:k_a") == 0
        assert await store.held("sess:ip:1.1.1.1") == 0

    asyncio.run(main())


def test_connection_cap() -> None:
    cap = ConnectionCap(2)
    with cap.hold(), cap.hold():
        assert cap.active == 2
        with pytest.raises(CapacityError) as err:
            cap.try_acquire()
        assert err.value.code == CAPACITY_FULL and err.value.http_status == 503
    assert cap.active == 0
    with pytest.raises(RuntimeError), cap.hold():
        raise RuntimeError
    assert cap.active == 0
    unlimited = ConnectionCap(0)
    for _ in range(1000):
        unlimited.try_acquire()


def test_build_limit_store() -> None:
    assert isinstance(build_limit_store(""), MemoryLimitStore)


def test_limits_hold_across_two_limiters_sharing_redis(redis_url: str) -> None:
    async def main() -> None:
        store = build_limit_store(redis_url)
        other = RedisLimitStore(redis_url)
        assert isinstance(store, RedisLimitStore)
        a = _limiter(store, http_requests_per_min=4, max_sessions_per_key=1)
        b = _limiter(other, http_requests_per_min=4, max_sessions_per_key=1)
        try:
            for limiter in (a, b, a, b):
                await limiter.check_request("k_a", "1.1.1.1")
            with pytest.raises(RateLimitError):
                await b.check_request("k_a", "1.1.1.1")
            async with a.session("k_a", "1.1.1.1"):
                with pytest.raises(RateLimitError):
                    async with b.session("k_a", "2.2.2.2"):
                        pass
            async with b.session("k_a", "2.2.2.2"):
                pass
        finally:
            await store.close()
            await other.close()

    asyncio.run(main())
