"""Scale-out for real, on loopback: a real Redis, two engine processes, two arq job workers
and HAProxy running deploy/haproxy/haproxy.cfg in front of the engines (model doubles).

Shows: dialogue sessions (WebSocket upgrade) and HTTP calls through the proxy, spread over
both replicas; X-Request-ID kept or made by the proxy and returned; the client's address (not
the proxy's) reaching the engines' per-address limits, with a spoofed X-Forwarded-For ignored;
a long-text job posted to one replica, run by a worker, fetched from the other; a worker
killed mid-job and the job finished by the other worker; a worker stopped by SIGTERM finishing
its running job first; a replica drained by SIGTERM while a
reply is in flight: the reply finishes, HAProxy's /readyz checks take the replica out, new
sessions go to the other one.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import threading

import httpx
import numpy as np
import pytest
import websockets

from tests.engine_doubles import silence, speech_like
from tests.scaleout_cluster import (
    Proc,
    haproxy,
    server_states,
    start_engine,
    start_worker,
    wait_until,
)
from tingshuo.core.audio import float_to_pcm16

pytestmark = pytest.mark.slow
PER_IP = 30  # requests per minute per client address
JOB_TIMEOUT_S = 8  # a worker's lease on a job is this + 10 s


@pytest.fixture(scope="module")
def cluster(redis_server: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    tmp = tmp_path_factory.mktemp("cluster")
    sets = {
        "redis_url": redis_server,
        "log_level": "INFO",
        "security.trusted_proxies": '["127.0.0.1"]',
        "security.http_requests_per_min_per_ip": str(PER_IP),
        "server.shutdown_timeout_s": "15",
        "server.job_workers": "0",  # jobs run in the workers only
    }
    worker_sets = {
        "redis_url": redis_server,
        "server.job_timeout_s": str(JOB_TIMEOUT_S),
        "server.job_max_tries": "3",
    }
    procs: list[Proc] = []
    try:
        for name in ("engine-a", "engine-b"):
            procs.append(start_engine(tmp, name, sets, delay=1.0))
        for name in ("worker-1", "worker-2"):
            procs.append(start_worker(tmp, name, worker_sets, delay=1.0))
        engines, workers = procs[:2], procs[2:]
        with haproxy(tmp, [e.base for e in engines]) as proxy:
            yield proxy, engines, workers
    finally:
        for p in procs:
            p.stop()


def dialog_events(url: str, on_reply_text: threading.Event | None = None) -> list[str]:
    """One utterance over /v1/dialog; the event types received, then how it ended."""

    async def main() -> list[str]:
        got: list[str] = []
        async with websockets.connect(url, open_timeout=20) as ws:
            await ws.send(json.dumps({"type": "session.start"}))
            audio = np.concatenate([speech_like(1.0), silence(0.6)])
            for i in range(0, len(audio), 640):
                await ws.send(float_to_pcm16(audio[i : i + 640]))
            try:
                async for msg in ws:
                    if isinstance(msg, bytes):
                        continue
                    got.append(json.loads(msg)["type"])
                    if got[-1] == "reply.text" and on_reply_text is not None:
                        on_reply_text.set()
                    if got[-1] == "reply.done" and on_reply_text is None:
                        await ws.send(json.dumps({"type": "session.close", "reason": "bye"}))
            except websockets.ConnectionClosed:
                got.append("connection closed")
        return got

    return asyncio.run(asyncio.wait_for(main(), 60))


def dialog_sessions(engine: Proc) -> float:
    text = httpx.get(engine.base + "/metrics").text
    found = re.search(r'^tingshuo_active_sessions\{endpoint="dialog"\} (\S+)', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_http_calls_and_request_ids_through_the_proxy(cluster) -> None:  # noqa: ANN001
    proxy, _, _ = cluster
    r = httpx.post(proxy.base + "/api/synthesize", json={"text": "你好", "format": "base64"})
    assert r.status_code == 200 and len(r.json()["audio_base64"]) > 1000
    mine = httpx.get(proxy.base + "/api/voices", headers={"X-Request-ID": "client-req-42"})
    assert mine.status_code == 200 and mine.headers["x-request-id"] == "client-req-42"
    made = httpx.get(proxy.base + "/api/voices").headers["x-request-id"]
    # made by HAProxy (a UUID), not by the engine (16 hex digits): the proxy's id is logged
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", made)
    wait_until(lambda: made in proxy.log_text(), 5, "HAProxy to log the request id", [proxy])


def test_client_address_reaches_the_engines_not_the_proxys(cluster) -> None:  # noqa: ANN001
    proxy, _, _ = cluster

    def client(addr: str) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(local_address=addr), timeout=10)

    spoof = {"X-Forwarded-For": "198.51.100.7"}  # a client naming another address
    with client("127.0.0.2") as a, client("127.0.0.3") as b:
        codes = [a.get(proxy.base + "/api/voices", headers=spoof).status_code for _ in range(40)]
        # one bucket for 127.0.0.2, shared by both replicas through Redis (plus a little refill)
        allowed = codes.count(200)
        assert PER_IP <= allowed <= PER_IP + 3 and codes[-1] == 429, codes
        assert b.get(proxy.base + "/api/voices").status_code == 200  # another address: its own


def test_dialogue_sessions_through_the_proxy_use_both_replicas(cluster) -> None:  # noqa: ANN001
    proxy, engines, _ = cluster
    url = proxy.base.replace("http", "ws") + "/v1/dialog"
    results: list[list[str]] = []
    seen: list[tuple[float, float]] = []

    def watch() -> None:
        while len(results) < 4:
            seen.append((dialog_sessions(engines[0]), dialog_sessions(engines[1])))

    threads = [
        threading.Thread(target=lambda: results.append(dialog_events(url))) for _ in range(4)
    ]
    watcher = threading.Thread(target=watch)
    for t in threads:
        t.start()
    watcher.start()
    for t in (*threads, watcher):
        t.join(90)
    assert len(results) == 4
    for got in results:
        assert {"transcript.final", "reply.text", "reply.done", "session.closed"} <= set(got), got
    assert any(a >= 1 and b >= 1 for a, b in seen), "leastconn spreads sessions over both"


_polls = iter(range(2, 60_000))


def poll(url: str) -> httpx.Response:
    """GET from a fresh loopback address each time, so the low per-address limit set for
    test_client_address_reaches_the_engines_not_the_proxys never throttles job polling."""
    n = next(_polls)
    transport = httpx.HTTPTransport(local_address=f"127.1.{n // 250}.{n % 250 + 1}")
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.get(url)


def wait_job(base: str, job_id: str, timeout: float, logs: list[Proc]) -> dict:
    view: dict = {}

    def finished() -> bool:
        view.update(poll(f"{base}/api/jobs/{job_id}").json())
        return view["status"] in ("done", "failed")

    wait_until(finished, timeout, f"job {job_id}", logs)
    return view


def ran_it(worker: Proc, job_id: str) -> list[int]:
    """The tries of ``job_id`` this worker started (from its log)."""
    return [int(t) for t in re.findall(rf"job {job_id}: try (\d+)", worker.log_text())]


def test_a_job_posted_to_one_replica_is_run_by_a_worker_and_fetched_from_the_other(cluster) -> None:  # noqa: ANN001
    _, (a, b), workers = cluster
    r = httpx.post(a.base + "/api/jobs", json={"text": "这是一个长文本任务。" * 2}, timeout=10)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    view = wait_job(b.base, job_id, 30, [a, b, *workers])
    assert view["status"] == "done" and view["result_url"].startswith(b.base), view
    wav = poll(view["result_url"])
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    assert sum(len(ran_it(w, job_id)) for w in workers) == 1  # one worker, once
    for engine in (a, b):  # the engines only queued and served it
        assert f"job {job_id}: try" not in engine.log_text()


def test_a_worker_killed_mid_job_leaves_it_to_the_other(cluster) -> None:  # noqa: ANN001
    proxy, (a, _), workers = cluster
    text = "这是第一句比较长的话，用来测试。" * 5  # five segments of 1 s each
    job_id = httpx.post(proxy.base + "/api/jobs", json={"text": text}, timeout=10).json()["id"]
    wait_until(
        lambda: poll(f"{a.base}/api/jobs/{job_id}").json()["progress"] >= 0.2,
        20,
        "the job to start",
        workers,
    )
    (busy,) = [w for w in workers if ran_it(w, job_id)]
    (other,) = [w for w in workers if w is not busy]
    busy.stop(signal.SIGKILL)  # no goodbye: the lease has to run out
    assert poll(f"{a.base}/api/jobs/{job_id}").json()["status"] == "running"
    view = wait_job(proxy.base, job_id, JOB_TIMEOUT_S + 10 + 30, [other])
    assert view["status"] == "done", view
    assert ran_it(other, job_id) == [2]  # arq's second try, on the surviving worker
    wav = poll(f"{proxy.base}/api/jobs/{job_id}/audio")
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    assert len(wav.content) > 5 * 16 * 0.12 * 24000  # all five segments


def test_sigterm_lets_a_workers_running_job_finish_before_it_exits(cluster) -> None:  # noqa: ANN001
    proxy, _, workers = cluster
    (alive,) = [w for w in workers if w.proc.poll() is None]  # the other one was killed above
    text = "这是第一句比较长的话，用来测试。" * 3  # three segments of 1 s each
    job_id = httpx.post(proxy.base + "/api/jobs", json={"text": text}, timeout=10).json()["id"]
    wait_until(lambda: ran_it(alive, job_id) == [1], 20, "the worker to take the job", [alive])
    alive.proc.send_signal(signal.SIGTERM)  # what Kubernetes and compose send
    assert alive.proc.wait(30) in (0, -signal.SIGTERM)
    view = poll(f"{proxy.base}/api/jobs/{job_id}").json()
    assert view["status"] == "done", view  # finished within server.shutdown_timeout_s, not lost


def test_a_draining_replica_finishes_its_reply_and_new_sessions_go_elsewhere(cluster) -> None:  # noqa: ANN001
    proxy, engines, _ = cluster
    url = proxy.base.replace("http", "ws") + "/v1/dialog"
    replying = threading.Event()
    got: list[str] = []
    t = threading.Thread(target=lambda: got.extend(dialog_events(url, replying)))
    t.start()
    assert replying.wait(30), got
    (victim,) = [e for e in engines if dialog_sessions(e) >= 1]
    other = next(e for e in engines if e is not victim)
    victim.proc.send_signal(signal.SIGTERM)  # what Kubernetes and compose send
    # new sessions while it drains: the proxy sends them to the other replica
    wait_until(lambda: server_states(proxy).count("UP") == 1, 15, "HAProxy to mark it down")
    fresh = dialog_events(url)
    assert "reply.done" in fresh, fresh
    t.join(60)
    # the reply in flight was not lost: it ended, then the session closed with a reason
    assert got[-3:-1] == ["reply.done", "session.closed"] or got[-2:] == [
        "reply.done",
        "session.closed",
    ], got
    assert victim.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    assert dialog_sessions(other) == 0 and httpx.get(proxy.base + "/readyz").status_code == 200
