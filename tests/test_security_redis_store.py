"""The Redis limit store against a real redis-server, shared by two processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from tingshuo.core.paths import repo_root
from tingshuo.engine.security.buckets import Bucket, Slot
from tingshuo.engine.security.redis_store import RedisLimitStore

_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from tingshuo.engine.security.buckets import Bucket, Slot
    from tingshuo.engine.security.redis_store import RedisLimitStore

    async def main(url, n, lease_id):
        store = RedisLimitStore(url)
        bucket = Bucket("shared", 100, 0.0)
        results = await asyncio.gather(*(store.take([bucket], 1) for _ in range(n)))
        lease = await store.acquire([Slot("sessions", 3)], lease_id, 60)
        await store.close()
        print(sum(r.allowed for r in results), lease or "ok")

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
    """
)


def test_take_matches_memory_semantics(redis_url: str) -> None:
    async def main() -> None:
        store = RedisLimitStore(redis_url)
        bucket = Bucket.per_minute("k", 60)
        try:
            assert (await store.take([bucket], 60)).allowed
            refused = await store.take([bucket], 1)
            assert not refused.allowed and refused.blocked_key == "k"
            assert 0.5 < refused.retry_after <= 1.0
            await asyncio.sleep(1.1)
            assert (await store.take([bucket], 1)).allowed
            key, ip = Bucket("key", 10, 0.0), Bucket("ip", 3, 0.0)
            for _ in range(3):
                assert (await store.take([key, ip], 1)).allowed
            refused = await store.take([key, ip], 1)
            assert not refused.allowed and refused.blocked_key == "ip"
            assert refused.retry_after == float("inf")
            assert (await store.take([key], 7)).allowed  # all-or-nothing
            assert not (await store.take([key], 1)).allowed
        finally:
            await store.close()

    asyncio.run(main())


def test_keys_expire_when_idle(redis_url: str) -> None:
    import redis

    async def main() -> None:
        store = RedisLimitStore(redis_url)
        await store.take([Bucket("fast", 10, 10.0)], 1)  # full again after 1 s
        await store.acquire([Slot("s", 1)], "lease", 0.2)
        await store.close()

    asyncio.run(main())
    with redis.Redis.from_url(redis_url) as client:
        ttls = {k.decode(): client.pttl(k) for k in client.keys("*")}
    assert ttls and all(0 < t <= 2000 for t in ttls.values()), ttls


def test_two_processes_share_one_bucket_and_slots(redis_url: str) -> None:
    """Two clients in this process plus two worker processes spend one 100-token bucket."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_url, "80", f"worker{i}"],
            cwd=repo_root(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]

    async def main() -> tuple[int, list[str | None]]:
        stores = [RedisLimitStore(redis_url), RedisLimitStore(redis_url)]
        bucket = Bucket("shared", 100, 0.0)
        results = await asyncio.gather(*(stores[i % 2].take([bucket], 1) for i in range(80)))
        leases = [await stores[0].acquire([Slot("sessions", 3)], f"l{i}", 60) for i in range(2)]
        for s in stores:
            await s.close()
        return sum(r.allowed for r in results), leases

    here_allowed, here_leases = asyncio.run(main())
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    total = here_allowed + sum(int(o[0]) for o in outs)
    assert total == 100, (here_allowed, outs)  # 240 attempts, exactly the capacity allowed
    # 4 sessions asked for 3 shared places: exactly 3 granted.
    granted = sum(x is None for x in here_leases) + sum(o[1] == "ok" for o in outs)
    assert granted == 3, (here_leases, outs)


def test_unreachable_redis_raises_connection_error() -> None:
    import redis

    async def main() -> None:
        store = RedisLimitStore("redis://127.0.0.1:1/0")
        try:
            with pytest.raises(redis.ConnectionError):
                await store.take([Bucket("k", 1, 1)], 1)
        finally:
            await store.close()

    asyncio.run(main())
