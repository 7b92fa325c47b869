"""The bounded inference worker pool and a batching consumer on top of it.

Model calls never run on the event loop: they go to a fixed set of threads. Callers wait
for a free slot (``max_pending``) instead of piling up unbounded work — backpressure, not
loss. :class:`Batcher` gathers calls for up to ``max_wait_ms`` or ``max_batch`` items and
runs them as one call where the backend has a batch entry point.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from tingshuo.engine.metrics import Metrics

T = TypeVar("T")
R = TypeVar("R")


class WorkerPool:
    """A fixed thread pool for blocking model calls, with a bound on waiting calls."""

    def __init__(
        self, workers: int, max_pending: int, metrics: Metrics, timeout_s: float = 0.0
    ) -> None:
        self.timeout_s = timeout_s  # a call running longer raises TimeoutError (0: no limit)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tingshuo-infer")
        self._slots = asyncio.Semaphore(max_pending) if max_pending > 0 else None
        self._pending = 0
        self.metrics = metrics

    @property
    def pending(self) -> int:
        """Calls waiting for or running on a worker."""
        return self._pending

    async def run(self, stage: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run ``fn(*args, **kwargs)`` on a worker; time it under ``stage``."""
        self._pending += 1
        self.metrics.queue_depth.set(self._pending)
        try:
            if self._slots is not None:
                async with self._slots:
                    return await self._run(stage, fn, *args, **kwargs)
            return await self._run(stage, fn, *args, **kwargs)
        finally:
            self._pending -= 1
            self.metrics.queue_depth.set(self._pending)

    async def _run(self, stage: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            future = loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))
            if self.timeout_s > 0:  # a hung model fails this call; its thread finishes later
                return await asyncio.wait_for(future, self.timeout_s)
            return await future
        finally:
            self.metrics.stage_seconds.labels(stage).observe(time.perf_counter() - t0)

    def shutdown(self) -> None:
        """Stop the threads once running calls finish."""
        self.executor.shutdown(wait=True, cancel_futures=True)


class Batcher(Generic[T, R]):
    """Groups concurrent calls into batches of up to ``max_batch`` within ``max_wait_ms``."""

    def __init__(
        self,
        pool: WorkerPool,
        stage: str,
        batch_fn: Callable[[Sequence[T]], Sequence[R]],
        max_batch: int = 4,
        max_wait_ms: float = 10.0,
    ) -> None:
        self.pool, self.stage, self.batch_fn = pool, stage, batch_fn
        self.max_batch, self.max_wait = max(1, max_batch), max_wait_ms / 1000.0
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Queue one item and wait for its result (exceptions propagate per item)."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._consume(), name=f"batcher-{self.stage}")
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, fut))
        return await fut

    async def _consume(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                continue
            self.pool.metrics.batch_size.observe(len(live))
            try:
                results = await self.pool.run(self.stage, self.batch_fn, [i for i, _ in live])
            except Exception as exc:  # one failure fails that batch only, with the cause
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), res in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(res)

    async def close(self) -> None:
        """Stop the consumer task."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            self._queue = None
