"""Long-text jobs on arq (asyncio + Redis), for engine replicas and separate worker processes.

Engines store a job record (engine/scaleout/job_records.py) and enqueue it here; any
``tingshuo worker`` process (or an engine with ``server.job_workers`` > 0) runs it with
:func:`engine.jobs.run_job`. What arq gives, with the settings below:

* **lease / ack**: a worker takes a job by setting arq's in-progress key, which expires
  ``server.job_timeout_s`` + 10 s later; the job leaves the queue only when it finished (ack).
  A worker killed mid-job never acks: once its lease runs out another worker runs the job again
  (at-least-once; ``run_job`` is idempotent: a finished job only gets its webhook delivered).
* **retries**: a model call that timed out raises :class:`arq.worker.Retry`, deferred by
  ``server.webhook_backoff_s`` doubled per try, up to ``server.job_max_tries`` tries; a job
  cancelled by a worker's shutdown goes back to the queue at once.
* **one job once**: the arq job id is the job's own id, so a job cannot be queued twice.
* webhooks: delivered by the worker after the job, with tenacity backoff (engine/jobs.py).
"""

from __future__ import annotations

import logging
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Retry, Worker, func

from tingshuo.engine.config import EngineConfig
from tingshuo.engine.jobs import TransientJobError, run_job

log = logging.getLogger(__name__)
QUEUE = "tingshuo:jobs:arq"
FUNCTION = "synthesize_job"


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings from a ``redis://`` URL."""
    return RedisSettings.from_dsn(url)


class ArqJobQueue:
    """The engine's side: put stored jobs on the shared queue."""

    def __init__(self, url: str, queue_name: str = QUEUE) -> None:
        self.url, self.queue_name = url, queue_name
        self._pool: ArqRedis | None = None

    async def _redis(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(
                redis_settings(self.url), default_queue_name=self.queue_name
            )
        return self._pool

    async def submit(self, job_id: str, base_url: str) -> None:
        """Queue a stored job for whichever worker takes it first."""
        pool = await self._redis()
        await pool.enqueue_job(FUNCTION, job_id, base_url, _job_id=job_id)

    async def queued(self) -> int:
        """Jobs waiting or running (not yet acknowledged)."""
        pool = await self._redis()
        return int(await pool.zcard(self.queue_name))

    async def close(self) -> None:
        """Close the connection pool."""
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


async def synthesize_job(ctx: dict[str, Any], job_id: str, base_url: str) -> str:
    """The arq task: run one stored job (``ctx`` holds the services, store and config)."""
    config: EngineConfig = ctx["config"]
    tries = ctx["job_try"]
    final = tries >= config.server.job_max_tries
    log.info("job %s: try %d on this worker", job_id, tries)
    try:
        await run_job(ctx["store"], ctx["services"], job_id, base_url, final_try=final)
    except TransientJobError:
        raise Retry(defer=config.server.webhook_backoff_s * 2 ** (tries - 1)) from None
    job = ctx["store"].get(job_id)
    return job.status if job is not None else "gone"


def make_worker(
    config: EngineConfig, services: Any, store: Any, *, handle_signals: bool = False
) -> Worker:
    """An arq worker running this process's ``services`` on the shared queue."""

    async def startup(ctx: dict[str, Any]) -> None:
        services.start()  # the inference pool lives in the worker's event loop

    srv = config.server
    return Worker(
        functions=[
            func(
                synthesize_job,
                name=FUNCTION,
                max_tries=srv.job_max_tries,
                timeout=srv.job_timeout_s,
            )
        ],
        queue_name=QUEUE,
        redis_settings=redis_settings(config.redis_url),
        ctx={"config": config, "services": services, "store": store},
        on_startup=startup,
        handle_signals=handle_signals,
        # SIGTERM: stop taking jobs, let running ones finish within the drain time
        job_completion_wait=int(srv.shutdown_timeout_s),
        max_jobs=max(1, srv.job_workers),
        job_timeout=srv.job_timeout_s,
        keep_result=3600,
        poll_delay=0.5,
        max_tries=srv.job_max_tries,
    )
