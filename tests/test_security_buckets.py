"""In-process token buckets and session slots."""

from __future__ import annotations

import asyncio

import pytest

from tingshuo.engine.security.buckets import Bucket, MemoryLimitStore, Slot


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_spends_refills_and_reports_retry_after() -> None:
    clock = FakeClock()
    store = MemoryLimitStore(clock)
    bucket = Bucket.per_minute("k", 60)  # 1 token per second, burst 60

    async def main() -> None:
        for _ in range(60):
            assert (await store.take([bucket], 1)).allowed
        refused = await store.take([bucket], 1)
        assert not refused.allowed and refused.blocked_key == "k"
        assert refused.retry_after == pytest.approx(1.0)
        clock.now += 2.5
        assert (await store.take([bucket], 2)).allowed
        assert not (await store.take([bucket], 1)).allowed
        clock.now += 1000
        assert (await store.take([bucket], 60)).allowed  # capped at capacity, not 1000
        assert not (await store.take([bucket], 1)).allowed

    asyncio.run(main())


def test_multi_bucket_take_is_all_or_nothing() -> None:
    clock = FakeClock()
    store = MemoryLimitStore(clock)
    key = Bucket("key", 10, 0.0)
    ip = Bucket("ip", 3, 0.0)

    async def main() -> None:
        for _ in range(3):
            assert (await store.take([key, ip], 1)).allowed
        refused = await store.take([key, ip], 1)
        assert not refused.allowed and refused.blocked_key == "ip"
        assert refused.retry_after == float("inf")
        # The key bucket was not charged for the refused take: 7 tokens left.
        assert (await store.take([key], 7)).allowed
        assert not (await store.take([key], 0.5)).allowed

    asyncio.run(main())


def test_slots_limit_concurrency_and_expire() -> None:
    clock = FakeClock()
    store = MemoryLimitStore(clock)
    slots = [Slot("key", 2), Slot("ip", 5)]

    async def main() -> None:
        assert await store.acquire(slots, "a", 30) is None
        assert await store.acquire(slots, "b", 30) is None
        assert await store.acquire(slots, "c", 30) == "key"
        assert await store.held("ip") == 2  # the refused one took nothing
        assert await store.acquire(slots, "a", 30) is None  # re-acquiring own lease is fine
        await store.release(slots, "a")
        await store.release(slots, "a")  # idempotent
        assert await store.acquire(slots, "c", 30) is None
        clock.now += 31  # leases of a crashed holder expire
        assert await store.held("key") == 0
        assert await store.acquire(slots, "d", 30) is None
        assert await store.acquire([Slot("free", 0)], "x", 1) is None  # 0: no limit

    asyncio.run(main())


def test_concurrent_takers_never_overspend() -> None:
    store = MemoryLimitStore()
    bucket = Bucket("shared", 50, 0.0)

    async def main() -> int:
        results = await asyncio.gather(*(store.take([bucket], 1) for _ in range(200)))
        return sum(r.allowed for r in results)

    assert asyncio.run(main()) == 50


def test_memory_is_bounded() -> None:
    clock = FakeClock()
    store = MemoryLimitStore(clock, max_keys=100)

    async def main() -> None:
        for i in range(1000):
            await store.take([Bucket(f"ip{i}", 10, 1.0)], 1)
            clock.now += 1
        assert len(store._levels) <= 101
        for i in range(100):
            await store.acquire([Slot(f"s{i}", 1)], "l", 10)
            await store.release([Slot(f"s{i}", 1)], "l")
        assert not store._leases

    asyncio.run(main())
