"""Long-text synthesis jobs: an embedded SQLite store, running one job, webhook delivery.

``POST /api/jobs`` stores a job and returns at once; :func:`run_job` synthesizes it segment by
segment on the worker pool, writes the WAV next to the store and, when the job names a
webhook, POSTs the outcome there with retries and exponential backoff. Who calls it:

* one machine (no ``redis_url``): the engine's in-process runner (engine/http_jobs.py) on
  this SQLite store; jobs left ``queued`` or ``running`` by a previous process run again;
* replicas (``redis_url``): arq workers (engine/scaleout/arq_jobs.py) on the Redis records
  (engine/scaleout/job_records.py), so any replica serves any job's status and audio.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import tenacity

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import parse_emotion
from tingshuo.dialog.reply_state import split_reply
from tingshuo.engine.workers import Priority
from tingshuo.tts.base import Style

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,            -- queued | running | done | failed
    params TEXT NOT NULL,            -- JSON: text, emotion, intensity, voice, sample_rate
    webhook TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '', -- file name of the WAV under the jobs directory
    duration REAL NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    webhook_status TEXT NOT NULL DEFAULT '',  -- '' | delivered | failed
    webhook_attempts INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class Job:
    """One row of the job store."""

    id: str
    status: str
    params: dict[str, Any]
    webhook: str
    created: float
    updated: float
    progress: float
    result: str
    duration: float
    error: str
    webhook_status: str
    webhook_attempts: int


class JobStore:
    """SQLite-backed job table (thread-safe; one connection guarded by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dir = self.path.parent / (self.path.stem + "-results")
        self.dir.mkdir(exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def create(self, params: dict[str, Any], webhook: str = "") -> Job:
        """Insert a queued job with an unguessable id."""
        job_id = "job_" + secrets.token_urlsafe(18)
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, params, webhook, created, updated) VALUES (?,?,?,?,?,?)",
                (job_id, "queued", json.dumps(params, ensure_ascii=False), webhook, now, now),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        values = list(row)
        values[2] = json.loads(values[2])
        return Job(*values)

    def update(self, job_id: str, **fields: Any) -> None:
        """Set columns of one job (and ``updated``)."""
        fields["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def unfinished(self) -> list[str]:
        """Ids of jobs a previous process did not finish, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created"
            ).fetchall()
        return [r[0] for r in rows]

    def result_path(self, job: Job) -> Path | None:
        """The WAV of a finished job."""
        if job.status != "done" or not job.result:
            return None
        path = self.dir / job.result
        return path if path.is_file() else None

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


class _NotDelivered(Exception):
    """A webhook answer outside 2xx (retried like a connection error)."""


async def deliver_webhook(
    url: str, payload: dict[str, Any], retries: int, backoff_s: float, timeout_s: float
) -> tuple[bool, int]:
    """POST ``payload`` as JSON; retry on errors and non-2xx, ``retries`` times, with
    delays doubling from ``backoff_s`` plus up to ``backoff_s`` of random jitter (tenacity),
    so many replicas retrying one receiver do not hit it in lockstep.

    Returns (delivered, attempts).
    """
    attempts = 0
    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential_jitter(
            initial=backoff_s, max=60 * backoff_s, jitter=backoff_s
        ),
        retry=tenacity.retry_if_exception_type((httpx.HTTPError, _NotDelivered)),
        reraise=True,
    )
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    try:
                        resp = await client.post(
                            url, json=payload, headers={"X-Tingshuo-Event": "job"}
                        )
                    except httpx.HTTPError as exc:
                        log.warning("webhook %s failed: %s (attempt %d)", url, exc, attempts)
                        raise
                    if not 200 <= resp.status_code < 300:
                        log.warning(
                            "webhook %s answered %s (attempt %d)", url, resp.status_code, attempts
                        )
                        raise _NotDelivered(resp.status_code)
        except (httpx.HTTPError, _NotDelivered):
            return False, attempts
    return True, attempts


def job_view(job: Job, base: str) -> dict[str, Any]:
    """The public JSON of a job (also the webhook's payload)."""
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


class TransientJobError(Exception):
    """A job failed for a reason that may pass (a model call timed out): worth a retry."""


async def run_job(
    store: Any, services: Any, job_id: str, base: str, final_try: bool = True
) -> None:
    """Synthesize one stored job into ``store.dir``, record the outcome, deliver its webhook.

    Idempotent, so a queue may run it again after a worker died: a job already ``done`` or
    ``failed`` only has its webhook (re)delivered when that is still pending. A model call
    that timed out raises :class:`TransientJobError` (job back to ``queued``) unless
    ``final_try``; any other error fails the job.
    """
    job = store.get(job_id)
    if job is None:
        return
    if job.status not in ("done", "failed"):
        await _synthesize(store, services, job, final_try)
        job = store.get(job_id)
    if job is not None and job.webhook and job.webhook_status not in ("delivered", "failed"):
        srv = services.config.server
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


async def _synthesize(store: Any, services: Any, job: Job, final_try: bool) -> None:
    store.update(job.id, status="running", progress=0.0)
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
            audio = await services.run(  # lowest class: live sessions and requests go first
                "synthesize",
                services.synthesizer.synthesize,
                seg,
                style,
                p["voice"] or None,
                priority=Priority.BACKGROUND,
            )
            parts.append(audio)
            store.update(job.id, progress=(i + 1) / len(segments))
        audio = Audio.concat(parts)
        name = f"{job.id}.wav"
        fd, tmp = tempfile.mkstemp(dir=store.dir, prefix=".part-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(audio.to_wav_bytes(p.get("sample_rate")))
        os.replace(tmp, store.dir / name)
        store.update(
            job.id, status="done", result=name, duration=round(audio.duration, 3), progress=1.0
        )
        services.metrics.jobs.labels("done").inc()
    except TimeoutError as exc:
        if not final_try:
            log.warning("job %s: %s; to be retried", job.id, exc)
            store.update(job.id, status="queued", error=f"retrying after: {exc}")
            raise TransientJobError(str(exc)) from exc
        _failed(store, services, job.id, exc)
    except Exception as exc:
        _failed(store, services, job.id, exc)


def _failed(store: Any, services: Any, job_id: str, exc: Exception) -> None:
    log.error("job %s failed: %s: %s", job_id, type(exc).__name__, exc)
    store.update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
    services.metrics.jobs.labels("failed").inc()
