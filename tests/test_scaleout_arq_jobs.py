"""Long-text jobs on arq against a real redis-server: queue, in-process worker, retries.

The worker runs the model doubles; the multi-process case (separate workers, one killed
mid-job) is in tests/test_scaleout_cluster.py.
"""

from __future__ import annotations

import asyncio
import dataclasses

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
)
from tingshuo.core.audio import read_audio
from tingshuo.engine.config import EngineConfig
from tingshuo.engine.scaleout.arq_jobs import ArqJobQueue, make_worker
from tingshuo.engine.scaleout.job_records import RedisJobStore
from tingshuo.engine.services import Services

PARAMS = {"text": "你好。今天天气很好。", "emotion": "happy", "intensity": 1.0, "voice": ""}


class FlakySynthesizer(ToneSynthesizer):
    """Times out on its first ``failures`` calls (as a model call past its deadline does)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def synthesize(self, text, style=None, voice=None):  # noqa: ANN001, ANN201
        self.calls += 1
        if self.calls <= self.failures:
            raise TimeoutError("model call took longer than 60 s")
        return super().synthesize(text, style, voice)


def config_for(redis_url: str, **server: object) -> EngineConfig:
    config = EngineConfig(redis_url=redis_url)
    srv = dataclasses.replace(config.server, webhook_backoff_s=0.05, **server)
    return dataclasses.replace(config, server=srv)


def services_for(config: EngineConfig, synthesizer: ToneSynthesizer) -> Services:
    bridge = KeywordEmotionBridge()
    return Services(
        config, ScriptedRecognizer(["你好"]), synthesizer, bridge, EchoKnowledgePolicy(bridge)
    )


def run_until_idle(config: EngineConfig, services: Services, store: RedisJobStore) -> None:
    async def main() -> None:
        worker = make_worker(config, services, store)
        worker.burst = True  # stop once the queue is empty (deferred retries included)
        try:
            await worker.async_run()
        finally:
            await worker.close()
            await services.close()

    asyncio.run(main())


def submit(redis_url: str, *job_ids: str) -> int:
    async def main() -> int:
        queue = ArqJobQueue(redis_url)
        for job_id in job_ids:
            await queue.submit(job_id, "http://engine.example")
        n = await queue.queued()
        await queue.close()
        return n

    return asyncio.run(main())


def test_a_queued_job_is_run_by_a_worker_and_served_by_another_store(redis_url, tmp_path) -> None:  # noqa: ANN001
    config = config_for(redis_url)
    engine_store = RedisJobStore(redis_url, tmp_path / "engine")
    job = engine_store.create(PARAMS)
    assert submit(redis_url, job.id, job.id) == 1  # the job's own id: queued once
    worker_store = RedisJobStore(redis_url, tmp_path / "worker")
    run_until_idle(config, services_for(config, ToneSynthesizer()), worker_store)
    done = engine_store.get(job.id)
    assert done.status == "done" and done.progress == 1.0, done
    path = engine_store.result_path(done)
    assert path is not None and path.parent == engine_store.dir  # fetched from Redis
    audio = read_audio(path.read_bytes())
    assert abs(audio.duration - 0.12 * len(PARAMS["text"])) < 0.05  # 0.12 s per character
    assert submit(redis_url) == 0  # acknowledged: nothing left in the queue


def test_a_timed_out_model_call_is_retried_with_backoff(redis_url, tmp_path) -> None:  # noqa: ANN001
    config = config_for(redis_url, job_max_tries=3)
    store = RedisJobStore(redis_url, tmp_path / "w")
    job = store.create(PARAMS)
    submit(redis_url, job.id)
    synth = FlakySynthesizer(failures=2)
    run_until_idle(config, services_for(config, synth), store)
    assert store.get(job.id).status == "done"
    assert synth.calls >= 3  # two timeouts, then the whole job again


def test_a_job_that_keeps_timing_out_fails_after_its_tries(redis_url, tmp_path) -> None:  # noqa: ANN001
    config = config_for(redis_url, job_max_tries=2)
    store = RedisJobStore(redis_url, tmp_path / "w")
    job = store.create(PARAMS)
    submit(redis_url, job.id)
    synth = FlakySynthesizer(failures=100)
    run_until_idle(config, services_for(config, synth), store)
    failed = store.get(job.id)
    assert failed.status == "failed" and "TimeoutError" in failed.error, failed
    assert synth.calls == 2  # one call per try: the first segment times out each time


def test_an_engine_with_job_workers_runs_queued_jobs_itself(redis_url) -> None:  # noqa: ANN001
    import time

    import httpx

    from tests.engine_server import engine_test_config, running_server

    base_config = engine_test_config(warmup=False, job_workers=1)
    config = dataclasses.replace(base_config, redis_url=redis_url)
    with running_server(config, services_for(config, ToneSynthesizer())) as base:
        job = httpx.post(base + "/api/jobs", json={"text": PARAMS["text"]}).json()
        deadline = time.monotonic() + 30
        while (view := httpx.get(f"{base}/api/jobs/{job['id']}").json())["status"] != "done":
            assert time.monotonic() < deadline and view["status"] != "failed", view
            time.sleep(0.1)
        assert httpx.get(view["result_url"]).content[:4] == b"RIFF"
    assert submit(redis_url) == 0  # acknowledged on the shared queue


def test_the_worker_command_needs_redis(monkeypatch) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from tingshuo.engine.cli import cli

    monkeypatch.delenv("TINGSHUO_REDIS_URL", raising=False)
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 2 and "a worker needs redis_url" in result.output
    assert "worker" in CliRunner().invoke(cli, ["--help"]).output
