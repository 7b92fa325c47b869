"""The load balancer for real: HAProxy (deploy/haproxy/haproxy.cfg) in front of two engine
processes sharing a real Redis, all on loopback; engines run the model doubles.

Shows: dialogue sessions (WebSocket upgrade) and HTTP calls through the proxy, spread over
both replicas; X-Request-ID kept or made by the proxy and returned; the client's address (not
the proxy's) reaching the engines' per-address limits, with a spoofed X-Forwarded-For ignored;
a replica drained by SIGTERM while a reply is in flight: the reply finishes, HAProxy's
/readyz checks take the replica out, new sessions go to the other one.
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
from tests.scaleout_cluster import Proc, haproxy, server_states, start_engine, wait_until
from tingshuo.core.audio import float_to_pcm16

pytestmark = pytest.mark.slow
PER_IP = 30  # requests per minute per client address


@pytest.fixture(scope="module")
def cluster(redis_server: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    tmp = tmp_path_factory.mktemp("cluster")
    sets = {
        "redis_url": redis_server,
        "log_level": "INFO",
        "security.trusted_proxies": '["127.0.0.1"]',
        "security.http_requests_per_min_per_ip": str(PER_IP),
        "server.shutdown_timeout_s": "15",
    }
    engines: list[Proc] = []
    try:
        for name in ("engine-a", "engine-b"):
            engines.append(start_engine(tmp, name, sets, delay=1.0))
        with haproxy(tmp, [e.base for e in engines]) as proxy:
            yield proxy, engines
    finally:
        for e in engines:
            e.stop()


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
    proxy, _ = cluster
    r = httpx.post(proxy.base + "/api/synthesize", json={"text": "你好", "format": "base64"})
    assert r.status_code == 200 and len(r.json()["audio_base64"]) > 1000
    mine = httpx.get(proxy.base + "/api/voices", headers={"X-Request-ID": "client-req-42"})
    assert mine.status_code == 200 and mine.headers["x-request-id"] == "client-req-42"
    made = httpx.get(proxy.base + "/api/voices").headers["x-request-id"]
    # made by HAProxy (a UUID), not by the engine (16 hex digits): the proxy's id is logged
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", made)
    wait_until(lambda: made in proxy.log_text(), 5, "HAProxy to log the request id", [proxy])


def test_client_address_reaches_the_engines_not_the_proxys(cluster) -> None:  # noqa: ANN001
    proxy, _ = cluster

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
    proxy, engines = cluster
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


def test_a_draining_replica_finishes_its_reply_and_new_sessions_go_elsewhere(cluster) -> None:  # noqa: ANN001
    proxy, engines = cluster
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
