"""``/api/jobs``: asynchronous long-text synthesis with status polling and webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from tingshuo.engine.app import ApiError, EngineState, check_api_key, engine_state, require_services
from tingshuo.engine.http_tts import make_style, speakable
from tingshuo.engine.jobs import job_view, run_job

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_api_key)])


class JobRequest(BaseModel):
    """Body of ``POST /api/jobs``."""

    text: str = Field(..., description="Long text to speak")
    emotion: str = "neutral"
    intensity: float = Field(1.0, ge=0.0, le=2.0)
    voice: str = ""
    speed: float = Field(1.0, ge=0.25, le=4.0)
    sample_rate: int | None = Field(None, ge=8000, le=48000)  # a bad rate would fail the job
    webhook_url: str = Field("", description="POSTed the job's outcome when it ends")


def _base(state: EngineState, request: Any) -> str:
    return state.config.server.public_url.rstrip("/") or str(request.base_url).rstrip("/")


class JobRunner:
    """Where ``POST /api/jobs`` sends a stored job.

    One machine: an in-process queue and ``server.job_workers`` tasks. With ``redis_url``:
    the arq queue shared by every replica (engine/scaleout/arq_jobs.py), run by
    ``tingshuo worker`` processes and, when ``server.job_workers`` > 0, by an arq worker inside
    this engine too.
    """

    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.base_url = state.config.server.public_url.rstrip("/")
        self.arq: Any = None  # ArqJobQueue when replicas share Redis
        self.worker: Any = None  # an in-process arq Worker

    def start(self) -> None:
        """Start workers and requeue jobs an earlier process left unfinished."""
        services, srv = self.state.services, self.state.config.server
        if self.state.config.redis_url:
            from tingshuo.engine.scaleout.arq_jobs import ArqJobQueue, make_worker

            self.arq = ArqJobQueue(self.state.config.redis_url)
            if srv.job_workers > 0 and services is not None:
                self.worker = make_worker(self.state.config, services, self.state.jobs)
                self.tasks.append(asyncio.create_task(self.worker.async_run(), name="jobs-arq"))
            return
        for job_id in self.state.jobs.unfinished():
            self.queue.put_nowait((job_id, self.base_url))
        for i in range(max(1, srv.job_workers)):
            self.tasks.append(asyncio.create_task(self._work(), name=f"jobs-{i}"))

    async def submit(self, job_id: str, base_url: str) -> None:
        """Queue a stored job (on the shared arq queue when replicas share Redis)."""
        if self.arq is not None:
            await self.arq.submit(job_id, base_url)
            return
        self.queue.put_nowait((job_id, base_url))

    async def _work(self) -> None:
        while True:
            job_id, base = await self.queue.get()
            try:
                await run_job(self.state.jobs, self.state.services, job_id, base)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s crashed", job_id)

    async def stop(self) -> None:
        """Stop the workers: queued jobs stay queued for the next start (SQLite) or for another
        worker (arq: a job cancelled here goes back to the shared queue)."""
        if self.worker is not None:  # cancels its running job: arq requeues it
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.worker.close()
        for t in self.tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        if self.arq is not None:
            await self.arq.close()


@router.post("/api/jobs", tags=["jobs"], status_code=202)
async def create_job(body: JobRequest, request: Request) -> dict[str, Any]:
    """Queue a long-text synthesis; poll ``GET /api/jobs/{id}`` or wait for the webhook."""
    state = engine_state(request)
    require_services(request)
    text = body.text.strip()
    if not text:
        raise ApiError(400, "empty_text", "text is empty")
    if not speakable(text):
        raise ApiError(
            400, "nothing_to_speak", "text has no letters or digits to speak (only punctuation)"
        )
    limit = state.config.security.max_text_chars * 20  # jobs exist for long texts
    if len(text) > limit:
        raise ApiError(
            413, "text_too_long", f"text has {len(text)} characters; the limit is {limit}"
        )
    style = make_style(body.emotion, body.intensity, body.speed)
    if body.webhook_url and not body.webhook_url.startswith(("http://", "https://")):
        raise ApiError(400, "bad_webhook", "webhook_url must be an http(s) URL")
    if body.webhook_url:  # no requests into the engine's own network (docs/security.md)
        from tingshuo.engine.security.webhooks import check_webhook_url

        sec = state.config.security
        allow = sec.allow_private_webhooks or not sec.auth
        await asyncio.to_thread(check_webhook_url, body.webhook_url, allow)
    params = {
        "text": text,
        "emotion": style.emotion.value,
        "intensity": style.intensity,
        "voice": body.voice,
        "speed": style.rate,
        "sample_rate": body.sample_rate,
    }
    job = state.jobs.create(params, body.webhook_url)
    base = _base(state, request)
    await state.job_runner.submit(job.id, base)
    return job_view(job, base)


@router.get("/api/jobs/{job_id}", tags=["jobs"])
async def get_job(job_id: str, request: Request) -> dict[str, Any]:
    """A job's status, progress and result URL."""
    state = engine_state(request)
    job = state.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "not_found", "no such job")
    return job_view(job, _base(state, request))


@router.get("/api/jobs/{job_id}/audio", tags=["jobs"])
async def job_audio(job_id: str, request: Request) -> FileResponse:
    """The finished job's WAV."""
    state = engine_state(request)
    job = state.jobs.get(job_id)
    path = state.jobs.result_path(job) if job else None
    if path is None:
        raise ApiError(404, "not_found", "no finished job with this id")
    return FileResponse(path, media_type="audio/wav", filename=f"{job_id}.wav")
