"""The Redis job store and shared queue against a real redis-server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from tingshuo.core.paths import repo_root
from tingshuo.engine.scaleout.redis_jobs import RedisJobStore


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


_WORKER = textwrap.dedent(
    """
    import sys, time
    from tingshuo.engine.scaleout.redis_jobs import RedisJobStore
    store = RedisJobStore(sys.argv[1], sys.argv[2])
    got = []
    idle = 0
    while idle < 5:
        item = store.claim()
        if item is None:
            idle += 1
            time.sleep(0.05)
            continue
        idle = 0
        got.append(item[0])
        store.finish(item[0])
    print(" ".join(got))
    """
)


def test_each_job_is_claimed_by_exactly_one_worker(redis_url: str, tmp_path) -> None:  # noqa: ANN001
    store = RedisJobStore(redis_url, tmp_path / "q")
    ids = [store.create({"n": i}).id for i in range(60)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_url, str(tmp_path / f"w{i}")],
            cwd=repo_root(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for job_id in ids:
        store.enqueue(job_id, "http://engine")
    claimed = [p.communicate(timeout=60)[0].split() for p in procs]
    flat = [j for worker in claimed for j in worker]
    assert sorted(flat) == sorted(ids)  # every job once, none twice
    assert store.queued() == 0
    store.close()


def test_a_dead_replicas_job_goes_back_to_the_queue(redis_url: str, tmp_path) -> None:  # noqa: ANN001
    dead = RedisJobStore(redis_url, tmp_path / "dead", lease_s=0.3)
    alive = RedisJobStore(redis_url, tmp_path / "alive", lease_s=30)
    job = dead.create({"text": "x"})
    dead.enqueue(job.id, "http://e")
    assert dead.claim() == (job.id, "http://e")
    assert alive.claim() is None  # leased
    dead.update(job.id, progress=0.5)  # progress extends the lease...
    time.sleep(0.2)
    assert alive.claim() is None
    time.sleep(0.4)  # ...but then the replica dies: no more updates
    assert alive.claim() == (job.id, "http://e")
    alive.finish(job.id)
    assert alive.claim() is None
    dead.close()
    alive.close()
