"""The Redis job records (engine/scaleout/job_records.py) against a real redis-server."""

from __future__ import annotations

from tingshuo.engine.scaleout.job_records import RedisJobStore


def test_job_round_trip_matches_the_sqlite_store(redis_url: str, tmp_path) -> None:  # noqa: ANN001
    store = RedisJobStore(redis_url, tmp_path / "a")
    job = store.create({"text": "你好", "emotion": "happy", "intensity": 1.0}, "http://hook")
    assert job.status == "queued" and job.params["text"] == "你好" and job.webhook == "http://hook"
    assert job.id.startswith("job_") and len(job.id) >= 20
    store.update(job.id, status="running", progress=0.5)
    got = store.get(job.id)
    assert got.status == "running" and got.progress == 0.5 and got.updated >= job.updated
    store.update(job.id, webhook_status="delivered", webhook_attempts=2)
    assert store.get(job.id).webhook_attempts == 2
    assert store.unfinished() == []
    store.close()


def test_ids_are_never_paths(redis_url: str, tmp_path) -> None:  # noqa: ANN001
    store = RedisJobStore(redis_url, tmp_path / "a")
    for bad in ("../../etc/passwd", "job_../../x", "job_" + "a" * 100, "", "job_%2e%2e", None):
        assert store.get(bad) is None
    store.close()


def test_results_are_served_by_any_replica(redis_url: str, tmp_path) -> None:  # noqa: ANN001
    a = RedisJobStore(redis_url, tmp_path / "a")
    b = RedisJobStore(redis_url, tmp_path / "b")
    job = a.create({"text": "x"})
    wav = b"RIFF" + bytes(range(256)) * 40
    (a.dir / f"{job.id}.wav").write_bytes(wav)
    a.update(job.id, status="done", result=f"{job.id}.wav", duration=1.0, progress=1.0)
    path = b.result_path(b.get(job.id))
    assert path is not None and path.parent == b.dir and path.read_bytes() == wav
    assert b.result_path(b.get(a.create({"text": "y"}).id)) is None  # not done
    a.close()
    b.close()
