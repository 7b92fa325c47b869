"""Worker pool bounds and the batching consumer."""

from __future__ import annotations

import asyncio
import threading
import time

from tingshuo.engine.metrics import Metrics
from tingshuo.engine.workers import Batcher, WorkerPool


def test_calls_run_off_the_event_loop_and_are_timed() -> None:
    async def main() -> None:
        pool = WorkerPool(2, 4, Metrics())
        loop_thread = threading.get_ident()
        ident = await pool.run("asr", threading.get_ident)
        assert ident != loop_thread
        # the loop keeps running while a worker blocks
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        await pool.run("asr", time.sleep, 0.2)
        t.cancel()
        assert ticks >= 10
        text = pool.metrics.export().decode()
        assert 'tingshuo_stage_seconds_count{stage="asr"} 2.0' in text
        pool.shutdown()

    asyncio.run(main())


def test_pending_bound_makes_callers_wait_not_fail() -> None:
    async def main() -> None:
        pool = WorkerPool(1, 2, Metrics())
        peak = 0

        def work() -> None:
            nonlocal peak
            peak = max(peak, pool.pending)
            time.sleep(0.02)

        await asyncio.gather(*(pool.run("x", work) for _ in range(8)))
        assert pool.pending == 0
        pool.shutdown()

    asyncio.run(main())


def test_batcher_groups_concurrent_calls_and_keeps_order() -> None:
    async def main() -> None:
        pool = WorkerPool(1, 8, Metrics())
        sizes: list[int] = []

        def double(items: list[int]) -> list[int]:
            sizes.append(len(items))
            return [2 * i for i in items]

        batcher = Batcher(pool, "x", double, max_batch=4, max_wait_ms=50)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        assert results == [2 * i for i in range(10)]
        assert max(sizes) == 4 and sum(sizes) == 10 and len(sizes) <= 4
        await batcher.close()
        pool.shutdown()

    asyncio.run(main())


def test_batch_failure_reaches_every_caller_of_that_batch() -> None:
    async def main() -> None:
        pool = WorkerPool(1, 8, Metrics())

        def boom(items: list[int]) -> list[int]:
            raise RuntimeError("model exploded")

        batcher = Batcher(pool, "x", boom, max_batch=4, max_wait_ms=20)
        results = await asyncio.gather(
            *(batcher.submit(i) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        await batcher.close()
        pool.shutdown()

    asyncio.run(main())
