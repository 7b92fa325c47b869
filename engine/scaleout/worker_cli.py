"""``tingshuo worker``: run long-text jobs from the shared arq queue (needs ``redis_url``).

Any number of workers, on any machine that reaches the Redis: each loads the synthesis
models once, then takes jobs. SIGTERM stops taking jobs and lets running ones finish within
``server.shutdown_timeout_s``; a job still running then goes back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import click

from tingshuo.engine.cli import get_config
from tingshuo.engine.config import EngineConfig, cache_root

log = logging.getLogger(__name__)


def run_worker(config: EngineConfig, services: Any, results_dir: Path | None = None) -> None:
    """Serve the queue until SIGTERM/SIGINT (used by the command and by tests with doubles)."""
    from tingshuo.engine.scaleout.arq_jobs import make_worker
    from tingshuo.engine.scaleout.job_records import RedisJobStore

    store = RedisJobStore(config.redis_url, results_dir or cache_root(config) / "jobs-worker")
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = make_worker(config, services, store, handle_signals=True)
    try:
        worker.run()
    finally:
        asyncio.get_event_loop().run_until_complete(services.close())
        store.close()


@click.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run long-text synthesis jobs from the shared queue (arq on ``redis_url``)."""
    from tingshuo.engine.logs import configure
    from tingshuo.engine.security.redact import install_redaction
    from tingshuo.engine.services import Services

    config = get_config(ctx)
    if not config.redis_url:
        raise click.UsageError(
            "a worker needs redis_url (--set redis_url=redis://HOST:6379/0 or "
            "TINGSHUO_REDIS_URL); without Redis the engine runs jobs itself"
        )
    configure(config.log_level, config.log_format)
    install_redaction([config.security.token_secret, config.redis_url])
    services = Services.load(config)
    if config.server.warmup:
        services.warm()
    services.ready = True
    click.echo("tingshuo worker: models loaded; taking jobs")
    run_worker(config, services)
