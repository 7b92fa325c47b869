"""Long-text job records in Redis, shared by every engine replica and job worker.

Same interface as ``engine.jobs.JobStore`` (``create``/``get``/``update``/``unfinished``/
``result_path``/``close`` and the local results folder ``dir``). The queue itself (delivery,
leases, retries) is arq's: engine/scaleout/arq_jobs.py.

Jobs are Redis hashes (``<prefix>job:<id>``) that expire ``ttl_s`` after their last update;
the finished WAV is stored in Redis too (``<prefix>wav:<id>``) so any replica can serve it,
and is cached in the local ``dir`` on first download. Ids come from
:func:`secrets.token_urlsafe` and are checked against a strict pattern before any file name is
built from them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

JOB_ID = re.compile(r"^job_[A-Za-z0-9_-]{16,64}$")

_FIELDS = (
    "id", "status", "params", "webhook", "created", "updated", "progress", "result",
    "duration", "error", "webhook_status", "webhook_attempts",
)  # fmt: skip
_FLOATS = {"created", "updated", "progress", "duration"}


class RedisJobStore:
    """Jobs and their results in Redis."""

    def __init__(
        self,
        url: str,
        results_dir: str | Path,
        prefix: str = "tingshuo:jobs:",
        ttl_s: int = 7 * 24 * 3600,
        client: Any = None,
    ) -> None:
        import redis  # lazy: only when Redis is configured

        self._redis = client or redis.Redis.from_url(
            url, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        self.prefix, self.ttl_s = prefix, ttl_s
        self.dir = Path(results_dir)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def create(self, params: dict[str, Any], webhook: str = "") -> Any:
        """Store a queued job with an unguessable id (arq_jobs.ArqJobQueue queues it)."""
        job_id = "job_" + secrets.token_urlsafe(18)
        now = time.time()
        fields: dict[str, str | float | int] = {
            "id": job_id, "status": "queued", "params": json.dumps(params, ensure_ascii=False),
            "webhook": webhook, "created": now, "updated": now, "progress": 0.0, "result": "",
            "duration": 0.0, "error": "", "webhook_status": "", "webhook_attempts": 0,
        }  # fmt: skip
        with self._redis.pipeline() as pipe:
            pipe.hset(self._key(job_id), mapping=fields)  # type: ignore[arg-type]
            pipe.expire(self._key(job_id), self.ttl_s)
            pipe.execute()
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Any:
        """The job, or ``None`` (also for ids that are not job ids)."""
        from tingshuo.engine.jobs import Job

        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            return None
        raw: dict[bytes, bytes] = self._redis.hgetall(self._key(job_id))  # type: ignore[assignment]
        if not raw:
            return None
        row = {k.decode(): v.decode() for k, v in raw.items()}
        values: list[Any] = []
        for name in _FIELDS:
            value: Any = row.get(name, "")
            if name == "params":
                value = json.loads(value or "{}")
            elif name in _FLOATS:
                value = float(value or 0)
            elif name == "webhook_attempts":
                value = int(value or 0)
            values.append(value)
        return Job(*values)

    def update(self, job_id: str, **fields: Any) -> None:
        """Set fields of one job; a ``done`` result's WAV is uploaded for every replica."""
        fields["updated"] = time.time()
        key = self._key(job_id)
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping={k: _encode(v) for k, v in fields.items()})
            pipe.expire(key, self.ttl_s)
            if fields.get("status") == "done" and fields.get("result"):
                data = (self.dir / fields["result"]).read_bytes()
                pipe.set(f"{self.prefix}wav:{job_id}", data, ex=self.ttl_s)
            pipe.execute()

    def unfinished(self) -> list[str]:
        """Nothing to requeue locally: arq gives a dead worker's job to another worker."""
        return []

    def result_path(self, job: Any) -> Path | None:
        """The finished job's WAV, fetched from Redis into ``dir`` when not here yet."""
        if job is None or job.status != "done" or not job.result or not JOB_ID.match(job.id):
            return None
        path = self.dir / f"{job.id}.wav"
        if path.is_file():
            return path
        data: bytes | None = self._redis.get(f"{self.prefix}wav:{job.id}")  # type: ignore[assignment]
        if data is None:
            return None
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".part-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()


def _encode(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value
