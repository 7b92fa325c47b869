"""Worker pool bounds and the batching consumer."""

from __future__ import annotations

import asyncio
import threading
import time

from tingshuo.engine.metrics import Metrics
from tingshuo.engine.workers import Batcher, Priority, WorkerPool


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


def _overlap_of_partial_with_final(low_yields: bool) -> tuple[float, list[str]]:
    """Seconds a PARTIAL job ran while a FINAL job ran, and the start order."""

    async def main() -> tuple[float, list[str]]:
        pool = WorkerPool(2, 8, Metrics(), reserved=1, low_yields=low_yields)
        spans: dict[str, tuple[float, float]] = {}
        order: list[str] = []

        def job(name: str, seconds: float) -> None:
            t0 = time.perf_counter()
            order.append(name)
            time.sleep(seconds)
            spans[name] = (t0, time.perf_counter())

        final = asyncio.ensure_future(pool.run("asr", job, "final", 0.3, priority=Priority.FINAL))
        await asyncio.sleep(0.05)  # the final is running
        partial = pool.run("asr", job, "partial", 0.1, priority=Priority.PARTIAL)
        await asyncio.gather(final, partial)
        pool.shutdown()
        (f0, f1), (p0, p1) = spans["final"], spans["partial"]
        return max(0.0, min(f1, p1) - max(f0, p0)), order

    return asyncio.run(main())


def test_partials_wait_while_a_final_runs_when_low_priority_yields() -> None:
    overlap, order = _overlap_of_partial_with_final(low_yields=True)
    assert order == ["final", "partial"] and overlap == 0.0
    # without the rule the partial takes the free worker at once, beside the final
    overlap, _ = _overlap_of_partial_with_final(low_yields=False)
    assert overlap > 0.05
