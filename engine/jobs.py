"""Long-text synthesis jobs: an embedded SQLite store, a runner, webhook delivery.

``POST /api/jobs`` stores a job and returns at once; a background runner synthesizes it
segment by segment on the worker pool, writes the WAV next to the database and, when the
job names a webhook, POSTs the outcome there with retries and exponential backoff.
Jobs left ``queued`` or ``running`` by a previous process are picked up again on start.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import tenacity

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
