"""One priority scheduler for all model work, and a batching consumer on top of it.

Model calls never run on the event loop: they go to a fixed set of worker threads that
always take the most important waiting job (:class:`Priority`; FIFO within a class). A
final decode or a barge-in never waits behind queued partials or HTTP requests; a long
HTTP synthesis is queued one segment at a time, so live sessions overtake it between
segments. Jobs whose deadline passed or whose caller went away are dropped before they
start. :meth:`WorkerPool.saturated` / :meth:`WorkerPool.admit` are the admission control the
HTTP routes and sessions use (``overloaded`` → 503 with ``Retry-After``). :class:`Batcher`
gathers calls for up to ``max_wait_ms`` or ``max_batch`` items and runs them as one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, InvalidStateError
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic, TypeVar

from tingshuo.engine.metrics import Metrics

T = TypeVar("T")
R = TypeVar("R")


class Priority(IntEnum):
    """Scheduling class of a model job; a lower value runs first."""

    FINAL = 0  # final decode at an endpoint, barge-in: what the user is waiting for now
    REPLY = 1  # a dialogue reply: emotion, policy, reply synthesis
    INTERACTIVE = 2  # HTTP requests (TTS, ASR, emotion)
    PARTIAL = 3  # streaming partials: best-effort, shed first under load
    BACKGROUND = 4  # long-text jobs (the jobs API)


class OverloadedError(RuntimeError):
    """The scheduler is saturated for this class of work; retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlineExceededError(TimeoutError):
    """A job's deadline passed before it could start (it was dropped, never run)."""


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    future: Future[Any] = field(compare=False)
    call: Callable[[], Any] = field(compare=False)
    stage: str = field(compare=False, default="")
    deadline: float | None = field(compare=False, default=None)  # time.monotonic()
    started: bool = field(compare=False, default=False)
    on_start: Callable[[], None] | None = field(compare=False, default=None)
    # re-read while queued: a job may move up (e.g. a partial decode whose stream reached
    # its endpoint now carries the final)
    promote: Callable[[], Priority] | None = field(compare=False, default=None)


# queued jobs ahead of a new one beyond which a class is saturated (None: never refused)
_DEFAULT_LIMITS: dict[Priority, int | None] = {
    Priority.FINAL: None,
    Priority.REPLY: 64,
    Priority.INTERACTIVE: 8,
    Priority.PARTIAL: 0,  # a partial is only worth queueing when nothing waits
    Priority.BACKGROUND: None,
}


class WorkerPool(Executor):
    """The one scheduler: worker threads fed by a strict priority queue.

    ``run`` is the awaitable entry point; as an :class:`~concurrent.futures.Executor`
    (``submit``) it runs INTERACTIVE jobs, and :meth:`executor_for` gives an executor bound
    to a stage, class and deadline, for code that takes one (``Synthesizer.stream``: each
    segment one job). ``max_pending`` bounds the jobs queued ahead of a new HTTP request or
    reply before it is refused (:meth:`admit`); ``timeout_s`` bounds one running call.
    """

    def __init__(
        self,
        workers: int,
        max_pending: int,
        metrics: Metrics,
        timeout_s: float = 0.0,
        *,
        limits: dict[Priority, int | None] | None = None,
        max_wait_s: float = 0.0,
        max_requests: int = 0,
        reserved: int = 0,
        low_yields: bool = False,
    ) -> None:
        self.timeout_s = timeout_s  # a call running longer raises TimeoutError (0: no limit)
        self.workers = max(1, workers)
        self.metrics = metrics
        self.limits = dict(_DEFAULT_LIMITS)
        if max_pending > 0:
            self.limits[Priority.REPLY] = max_pending
        self.limits.update(limits or {})
        self.max_wait_s = max_wait_s  # estimated queue wait beyond which a class is saturated
        self.max_requests = max_requests  # HTTP model requests in flight (0: no limit)
        self.requests = 0
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._waiting = dict.fromkeys(Priority, 0)
        self._running = 0
        self._promotable: list[_Job] = []  # queued jobs with a ``promote`` callable
        self._running_low = 0  # running jobs below REPLY (HTTP, partials, background)
        self._running_by = dict.fromkeys(Priority, 0)
        # workers kept for FINAL/REPLY (at least one worker always serves the rest)
        self.reserved = min(max(0, reserved), self.workers - 1)
        # PARTIAL and BACKGROUND jobs start only while no FINAL/REPLY job runs: the model
        # calls use every core, so a partial beside a final would slow the final down
        self.low_yields = low_yields
        self._job_s = 0.5  # running mean of a job's duration (seconds), for wait estimates
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"tingshuo-infer-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        self._publish()

    # ---- state ----
    @property
    def pending(self) -> int:
        """Jobs waiting for or running on a worker."""
        with self._cond:
            return sum(self._waiting.values()) + self._running

    @property
    def running(self) -> int:
        """Jobs running on a worker now."""
        return self._running

    def waiting(self, priority: Priority | None = None) -> int:
        """Jobs queued (not started) in ``priority``, or in every class."""
        with self._cond:
            if priority is None:
                return sum(self._waiting.values())
            return self._waiting[priority]

    def active(self, priority: Priority) -> int:
        """Jobs of ``priority`` running or queued."""
        with self._cond:
            return self._running_by[priority] + self._waiting[priority]

    def ahead_of(self, priority: Priority) -> int:
        """Queued jobs a new job of ``priority`` would wait behind."""
        with self._cond:
            return sum(n for p, n in self._waiting.items() if p <= priority)

    def estimated_wait_s(self, priority: Priority) -> float:
        """How long a new job of ``priority`` would wait before it starts (a rough estimate)."""
        with self._cond:
            ahead = sum(n for p, n in self._waiting.items() if p <= priority)
            busy = self._running >= self.workers
            return (ahead + (1 if busy else 0)) * self._job_s / self.workers

    def saturated(self, priority: Priority = Priority.INTERACTIVE) -> bool:
        """Whether new work of ``priority`` should be refused now."""
        limit = self.limits.get(priority)
        if limit is None:
            return False
        if self.ahead_of(priority) > limit:
            return True
        if self.max_wait_s > 0 and self.estimated_wait_s(priority) > self.max_wait_s:
            return True
        return priority >= Priority.INTERACTIVE and 0 < self.max_requests <= self.requests

    def retry_after_s(self, priority: Priority = Priority.INTERACTIVE) -> int:
        """Seconds a refused client should wait before retrying (1–60)."""
        return int(min(60, max(1, math.ceil(self.estimated_wait_s(priority)))))

    def admit(self, priority: Priority = Priority.INTERACTIVE) -> None:
        """Raise :class:`OverloadedError` when ``priority`` is saturated."""
        if self.saturated(priority):
            self.metrics.rejected.labels(priority.name.lower()).inc()
            raise OverloadedError(
                f"the engine is busy ({self.ahead_of(priority)} model jobs queued, "
                f"{self.requests} requests in flight)",
                self.retry_after_s(priority),
            )

    @contextlib.contextmanager
    def request(self, priority: Priority = Priority.INTERACTIVE) -> Iterator[None]:
        """Admit one HTTP model request and count it in flight until the block ends."""
        self.admit(priority)
        self.requests += 1
        self.metrics.requests_in_flight.set(self.requests)
        try:
            yield
        finally:
            self.requests -= 1
            self.metrics.requests_in_flight.set(self.requests)

    # ---- submitting ----
    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Executor interface: ``fn(*args, **kwargs)`` as an INTERACTIVE job."""
        return self.schedule("", Priority.INTERACTIVE, None, functools.partial(fn, *args, **kwargs))

    def schedule(
        self,
        stage: str,
        priority: Priority,
        deadline: float | None,
        call: Callable[[], R],
        on_start: Callable[[], None] | None = None,
        promote: Callable[[], Priority] | None = None,
    ) -> Future[R]:
        """Queue ``call()``; the returned future can be cancelled until it starts.

        ``promote`` (cheap, non-blocking, called under the scheduler's lock) is asked for the
        job's class again each time a worker picks a job; the job only ever moves up.
        """
        future: Future[R] = Future()
        job = _Job(
            int(priority), next(self._seq), future, call, stage, deadline, False, on_start, promote
        )
        with self._cond:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            heapq.heappush(self._heap, job)
            if promote is not None:
                self._promotable.append(job)
            self._waiting[priority] += 1
            self._cond.notify()
        future.add_done_callback(lambda _f: self._forget(job))
        self._publish()
        return future

    def executor_for(
        self, stage: str, priority: Priority, deadline: float | None = None
    ) -> Executor:
        """An executor whose jobs run in this scheduler under ``stage`` / ``priority``."""
        return _BoundExecutor(self, stage, priority, deadline)

    async def run(
        self,
        stage: str,
        fn: Callable[..., R],
        *args: Any,
        priority: Priority | Callable[[], Priority] = Priority.INTERACTIVE,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> R:
        """Run ``fn(*args, **kwargs)`` on a worker; time it under ``stage``.

        ``priority`` may be a callable (see ``promote`` in :meth:`schedule`): its value now
        is the job's class, and it is asked again while the job waits.

        Raises :class:`DeadlineExceededError` when ``deadline`` (``time.monotonic()``) passes
        before it starts, ``TimeoutError`` when it runs longer than ``timeout_s``. Cancelling
        the awaiting task drops the job if it has not started.
        """
        loop = asyncio.get_running_loop()
        outer: asyncio.Future[R] = loop.create_future()
        timer: list[asyncio.TimerHandle] = []

        def expire() -> None:
            if not outer.done():
                outer.set_exception(TimeoutError(f"{stage} ran longer than {self.timeout_s:g} s"))

        def started() -> None:  # on the worker thread
            if self.timeout_s > 0:
                loop.call_soon_threadsafe(
                    lambda: timer.append(loop.call_later(self.timeout_s, expire))
                )

        def copy(src: Future[R]) -> None:
            if outer.done():
                return
            if src.cancelled():
                outer.cancel()
            elif (exc := src.exception()) is not None:
                outer.set_exception(exc)
            else:
                outer.set_result(src.result())

        promote = priority if callable(priority) else None
        klass = priority() if callable(priority) else priority
        call = functools.partial(fn, *args, **kwargs)
        future = self.schedule(stage, klass, deadline, call, started, promote)
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(copy, f))
        try:
            return await outer
        finally:
            future.cancel()  # not started yet: dropped; running: finishes, result unused
            for handle in timer:
                handle.cancel()

    # ---- workers ----
    def _forget(self, job: _Job) -> None:
        """A job finished or was cancelled: a cancelled queued one stops counting."""
        with self._cond:
            if not job.started:
                job.started = True  # never counted again
                self._waiting[Priority(job.priority)] -= 1
        self._publish()

    def _next(self) -> _Job | None:
        while True:
            with self._cond:
                while not self._closed and not self._startable():
                    # queued jobs that may be promoted are looked at again every 50 ms
                    self._cond.wait(0.05 if self._promotable else None)
                if not self._heap:
                    return None
                job = heapq.heappop(self._heap)
                if job.started or job.future.done():  # cancelled while queued
                    continue
                job.started = True
                self._waiting[Priority(job.priority)] -= 1
                expired = job.deadline is not None and time.monotonic() > job.deadline
                if not expired:
                    if not job.future.set_running_or_notify_cancel():
                        continue
                    self._running += 1
                    self._running_by[Priority(job.priority)] += 1
                    if job.priority > Priority.REPLY:
                        self._running_low += 1
                    return job
            self._publish()
            self.metrics.scheduled.labels(Priority(job.priority).name.lower(), "expired").inc()
            with contextlib.suppress(InvalidStateError):
                job.future.set_exception(
                    DeadlineExceededError(f"{job.stage or 'job'}: deadline passed before it ran")
                )

    def _promote(self) -> None:
        """Move queued jobs up whose ``promote`` says so (called with the lock held)."""
        live = [j for j in self._promotable if not j.started and not j.future.done()]
        moved = False
        for job in live:
            assert job.promote is not None
            try:
                now = int(job.promote())
            except Exception:  # noqa: BLE001 - a failing hint keeps the class it has
                continue
            if now < job.priority:
                self._waiting[Priority(job.priority)] -= 1
                self._waiting[Priority(now)] += 1
                job.priority = now
                moved = True
        self._promotable = live
        if moved:
            heapq.heapify(self._heap)

    def _startable(self) -> bool:
        """Whether the best queued job may start now (called with the lock held).

        ``reserved`` workers only ever take FINAL and REPLY jobs, so a final decode or a
        reply never waits for a segment of an HTTP request, a partial or a job to finish.
        With ``low_yields`` a PARTIAL or BACKGROUND job waits while a FINAL or REPLY job
        runs, so it does not share the cores with it (it may still run into one that starts
        after it: a model call is not interrupted).
        """
        self._promote()
        while self._heap and (self._heap[0].started or self._heap[0].future.done()):
            heapq.heappop(self._heap)  # cancelled while queued: already uncounted
        if not self._heap:
            return False
        head = self._heap[0].priority
        if head <= Priority.REPLY:
            return True
        if self.low_yields and head > Priority.INTERACTIVE and self._urgent_running():
            return False
        return self._running_low < self.workers - self.reserved

    def _urgent_running(self) -> bool:
        return self._running_by[Priority.FINAL] + self._running_by[Priority.REPLY] > 0

    def _work(self) -> None:
        while (job := self._next()) is not None:
            self._publish()
            prio = Priority(job.priority).name.lower()
            if job.on_start is not None:
                with contextlib.suppress(Exception):
                    job.on_start()
            t0 = time.perf_counter()
            result: Any = None
            error: BaseException | None = None
            try:
                result = job.call()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                error = exc
            elapsed = time.perf_counter() - t0
            with self._cond:
                self._running -= 1
                self._running_by[Priority(job.priority)] -= 1
                if job.priority > Priority.REPLY:
                    self._running_low -= 1
                self._job_s = 0.8 * self._job_s + 0.2 * elapsed
                self._cond.notify()  # a reserved slot may have opened for a low-class job
            self._publish()  # before the caller resumes, so what it reads next is current
            if job.stage:
                self.metrics.stage_seconds.labels(job.stage).observe(elapsed)
            self.metrics.scheduled.labels(prio, "failed" if error else "done").inc()
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)

    def _publish(self) -> None:
        m = self.metrics
        with self._cond:
            waiting = dict(self._waiting)
            running = self._running
            running_by = dict(self._running_by)
        for p, n in waiting.items():
            m.queue_waiting.labels(p.name.lower()).set(n)
        m.workers_busy.set(running)
        for p, n in running_by.items():
            m.running.labels(p.name.lower()).set(n)
        m.queue_depth.set(sum(waiting.values()) + running)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = True) -> None:
        """Drop queued jobs and stop the threads once running calls finish."""
        with self._cond:
            self._closed = True
            dropped = self._heap if cancel_futures else []
            if cancel_futures:
                self._heap = []
            self._cond.notify_all()
        for job in dropped:
            job.future.cancel()
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()


class _BoundExecutor(Executor):
    """Jobs of one stage, class and deadline in a :class:`WorkerPool`."""

    def __init__(
        self, pool: WorkerPool, stage: str, priority: Priority, deadline: float | None
    ) -> None:
        self.pool, self.stage, self.priority, self.deadline = pool, stage, priority, deadline

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Queue ``fn(*args, **kwargs)`` with this executor's stage, class and deadline."""
        call = functools.partial(fn, *args, **kwargs)
        return self.pool.schedule(self.stage, self.priority, self.deadline, call)


class Batcher(Generic[T, R]):
    """Groups concurrent calls into batches of up to ``max_batch`` within ``max_wait_ms``."""

    def __init__(
        self,
        pool: WorkerPool,
        stage: str,
        batch_fn: Callable[[Sequence[T]], Sequence[R]],
        max_batch: int = 4,
        max_wait_ms: float = 10.0,
        priority: Priority = Priority.INTERACTIVE,
    ) -> None:
        self.pool, self.stage, self.batch_fn = pool, stage, batch_fn
        self.priority = priority
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
                results = await self.pool.run(
                    self.stage, self.batch_fn, [i for i, _ in live], priority=self.priority
                )
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
