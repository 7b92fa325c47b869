"""``/api/jobs``: asynchronous long-text synthesis with status polling and webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import parse_emotion
from tingshuo.dialog.reply_state import split_reply
from tingshuo.engine.app import ApiError, EngineState, check_api_key, engine_state, require_services
from tingshuo.engine.http_tts import make_style, speakable
from tingshuo.engine.jobs import Job, deliver_webhook
from tingshuo.tts.base import Style

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


def job_view(job: Job, base: str) -> dict[str, Any]:
    """The public JSON of a job."""
    view: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "progress": round(job.progress, 3),
        "created": job.created,
        "updated": job.updated,
        "error": job.error or None,
        "duration": job.duration or None,
        "result_url": f"{base}/api/jobs/{job.id}/audio" if job.status == "done" else None,
    }
    if job.webhook:
        view["webhook"] = {
            "status": job.webhook_status or "pending",
            "attempts": job.webhook_attempts,
        }
    return view


def _base(state: EngineState, request: Any) -> str:
    return state.config.server.public_url.rstrip("/") or str(request.base_url).rstrip("/")


class JobRunner:
    """Runs queued jobs one (or ``server.job_workers``) at a time in the background."""

    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.base_url = state.config.server.public_url.rstrip("/")

    def start(self) -> None:
        """Start workers and requeue jobs an earlier process left unfinished."""
        for job_id in self.state.jobs.unfinished():
            self.queue.put_nowait((job_id, self.base_url))
        for i in range(max(1, self.state.config.server.job_workers)):
            self.tasks.append(asyncio.create_task(self._work(), name=f"jobs-{i}"))

    def submit(self, job_id: str, base_url: str) -> None:
        """Queue a stored job (in the shared Redis queue when the store has one)."""
        enqueue = getattr(self.state.jobs, "enqueue", None)
        if enqueue is not None:
            enqueue(job_id, base_url)
            return
        self.queue.put_nowait((job_id, base_url))

    async def _next(self) -> tuple[str, str]:
        claim = getattr(self.state.jobs, "claim", None)  # engine/scaleout/redis_jobs.py
        if claim is None:
            return await self.queue.get()
        while (item := await asyncio.to_thread(claim)) is None:
            await asyncio.sleep(0.5)
        return item

    async def _work(self) -> None:
        while True:
            job_id, base = await self._next()
            try:
                await self._run(job_id, base)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s crashed", job_id)
            finally:
                finish = getattr(self.state.jobs, "finish", None)
                if finish is not None:
                    finish(job_id)

    async def _run(self, job_id: str, base: str) -> None:
        store, services = self.state.jobs, self.state.services
        job = store.get(job_id)
        if job is None or services is None:
            return
        store.update(job_id, status="running", progress=0.0)
        p = job.params
        try:
            style = Style(
                emotion=parse_emotion(p["emotion"]),
                intensity=p["intensity"],
                rate=p.get("speed", 1.0),  # jobs stored before speed existed have none
            )
            parts: list[Audio] = []
            segments = split_reply(p["text"], services.config.tts.max_segment_chars)
            for i, seg in enumerate(segments):
                audio = await services.run(
                    "synthesize", services.synthesizer.synthesize, seg, style, p["voice"] or None
                )
                parts.append(audio)
                store.update(job_id, progress=(i + 1) / len(segments))
            audio = Audio.concat(parts)
            name = f"{job_id}.wav"
            fd, tmp = tempfile.mkstemp(dir=store.dir, prefix=".part-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(audio.to_wav_bytes(p.get("sample_rate")))
            os.replace(tmp, store.dir / name)
            store.update(
                job_id, status="done", result=name, duration=round(audio.duration, 3), progress=1.0
            )
            services.metrics.jobs.labels("done").inc()
        except Exception as exc:
            log.exception("job %s failed", job_id)
            store.update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
            services.metrics.jobs.labels("failed").inc()
        job = store.get(job_id)
        if job is not None and job.webhook:
            srv = self.state.config.server
            ok, attempts = await deliver_webhook(
                job.webhook,
                job_view(job, base),
                srv.webhook_retries,
                srv.webhook_backoff_s,
                srv.webhook_timeout_s,
            )
            store.update(
                job_id, webhook_status="delivered" if ok else "failed", webhook_attempts=attempts
            )

    async def stop(self) -> None:
        """Cancel the workers (queued jobs stay queued in the store for the next start)."""
        for t in self.tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


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
    state.job_runner.submit(job.id, base)
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
