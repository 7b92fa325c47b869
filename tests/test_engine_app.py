"""HTTP routes, ops endpoints and WebSockets of the app over a real socket (model doubles).

The same routes run on Whisper + Kokoro in tests/e2e/; here the doubles keep it fast and
deterministic for the protocol-level checks (errors, ids, jobs, webhooks, draining).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import numpy as np
import pytest
import websockets

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
    silence,
    speech_like,
)
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.audio import float_to_pcm16, read_audio
from tingshuo.engine.services import Services


@pytest.fixture(scope="module")
def server():  # noqa: ANN201
    config = engine_test_config(warmup=False, webhook_backoff_s=0.05)
    bridge = KeywordEmotionBridge()
    services = Services(
        config, ScriptedRecognizer(["你好"]), ToneSynthesizer(), bridge, EchoKnowledgePolicy(bridge)
    )
    with running_server(config, services) as base:
        yield base


def test_health_ready_metrics_openapi(server: str) -> None:
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server + "/readyz").json()
    assert ready["status"] == "ready" and ready["saturated"] is False
    schema = httpx.get(server + "/openapi.json").json()
    for path in ("/api/synthesize", "/v1/audio/speech", "/v1/audio/transcriptions", "/api/jobs"):
        assert path in schema["paths"], path
    httpx.post(server + "/api/synthesize", json={"text": "你好", "format": "base64"})
    text = httpx.get(server + "/metrics").text
    assert 'tingshuo_stage_seconds_count{stage="synthesize"}' in text
    for name in (
        "tingshuo_active_sessions",
        "tingshuo_queue_depth",
        "tingshuo_errors",
        "tingshuo_cache_hits",
    ):
        assert name in text


def test_synthesize_formats_and_download_ids(server: str) -> None:
    r = httpx.post(
        server + "/api/synthesize", json={"text": "你好世界", "emotion": "happy", "format": "url"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"].startswith(server + "/download/") and len(body["id"]) >= 22
    wav = httpx.get(body["url"])
    assert wav.headers["content-type"] == "audio/wav"
    audio = read_audio(wav.content)
    assert audio.duration == pytest.approx(0.48, abs=0.01)
    b64 = httpx.post(server + "/api/synthesize", json={"text": "你好", "format": "base64"}).json()
    assert len(b64["audio_base64"]) > 1000
    raw = httpx.post(
        server + "/api/synthesize", json={"text": "你好", "format": "wav", "sample_rate": 16000}
    )
    assert read_audio(raw.content).sample_rate == 16000
    for bad in ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "x" * 30, body["id"][:-1] + "!"):
        assert httpx.get(f"{server}/download/{bad}").status_code == 404, bad


def test_synthesize_errors_are_typed(server: str) -> None:
    cases = [
        ({"text": "   "}, 400, "empty_text"),
        ({"text": "好" * 6000}, 413, "text_too_long"),
        ({"text": "好", "emotion": "sarcastic"}, 400, "unknown_emotion"),
        ({"text": "好", "voice": "nobody"}, 400, "unknown_voice"),
    ]
    for body, status, code in cases:
        r = httpx.post(server + "/api/synthesize", json=body)
        assert r.status_code == status and r.json()["error"]["code"] == code, (body, r.text)
    assert (
        httpx.post(server + "/api/synthesize", json={"text": "好", "intensity": 5}).status_code
        == 422
    )


class _Receiver(BaseHTTPRequestHandler):
    calls: list[dict] = []
    fail_first = 2

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body)
        status = 503 if len(type(self).calls) <= type(self).fail_first else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_job_with_polling_and_webhook_retries(server: str) -> None:
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_port}/hook"
    text = "第一句话。" * 10 + "最后一句。"
    r = httpx.post(server + "/api/jobs", json={"text": text, "webhook_url": hook, "emotion": "sad"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = httpx.get(f"{server}/api/jobs/{job['id']}").json()
        if (
            job["status"] in ("done", "failed")
            and job.get("webhook", {}).get("status") != "pending"
        ):
            break
        time.sleep(0.05)
    receiver.shutdown()
    assert job["status"] == "done", job
    assert job["webhook"] == {"status": "delivered", "attempts": 3}
    assert [c["id"] for c in _Receiver.calls] == [job["id"]] * 3
    assert _Receiver.calls[-1]["status"] == "done"
    audio = read_audio(httpx.get(job["result_url"]).content)
    assert audio.duration == pytest.approx(0.12 * len(text), abs=0.05)
    assert httpx.get(f"{server}/api/jobs/job_nope").status_code == 404
    bad = httpx.post(server + "/api/jobs", json={"text": "x", "webhook_url": "file:///etc/passwd"})
    assert bad.json()["error"]["code"] == "bad_webhook"


def test_dialog_socket_turn_and_protocol_errors(server: str) -> None:
    async def main() -> None:
        url = server.replace("http", "ws") + "/v1/dialog"
        async with websockets.connect(url) as ws:
            await ws.send(b"\x00\x00")
            err = json.loads(await ws.recv())
            assert err["type"] == "error" and err["code"] == "bad_state" and err["fatal"]
        async with websockets.connect(url) as ws:
            await ws.send(
                json.dumps(
                    {"type": "session.start", "sample_rate_in": 16000, "sample_rate_out": 16000}
                )
            )
            assert json.loads(await ws.recv())["type"] == "session.started"
            await ws.send("{not json")
            assert json.loads(await ws.recv())["code"] == "bad_message"
            audio = np.concatenate([speech_like(1.0), silence(0.6)])
            for i in range(0, len(audio), 640):
                await ws.send(float_to_pcm16(audio[i : i + 640]))
            types, frames = [], 0
            while "reply.done" not in types:
                msg = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(msg, bytes):
                    frames += 1
                else:
                    types.append(json.loads(msg)["type"])
            assert frames > 0
            assert (
                types[:2] == ["speech.started", "transcript.partial"]
                or types[0] == "speech.started"
            )
            assert {"transcript.final", "emotion", "reply.text"} <= set(types)
            await ws.send(json.dumps({"type": "session.close", "reason": "bye"}))
            closed = json.loads(await ws.recv())
            assert closed == {"type": "session.closed", "reason": "bye"}

    asyncio.run(main())


def test_graceful_drain_lets_the_reply_in_flight_finish_then_closes_with_a_reason() -> None:
    config = engine_test_config(warmup=False, shutdown_timeout_s=5.0)
    bridge = KeywordEmotionBridge()
    services = Services(
        config,
        ScriptedRecognizer(["你好"]),
        ToneSynthesizer(delay=1.0),
        bridge,
        EchoKnowledgePolicy(bridge),
    )
    received: list[str] = []
    replying = threading.Event()

    async def client(url: str) -> None:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "session.start"}))
            audio = np.concatenate([speech_like(1.0), silence(0.6)])
            for i in range(0, len(audio), 640):
                await ws.send(float_to_pcm16(audio[i : i + 640]))
            try:
                async for msg in ws:
                    if isinstance(msg, str):
                        received.append(json.loads(msg)["type"])
                        if received[-1] == "reply.text":
                            replying.set()
            except websockets.ConnectionClosed:
                received.append("connection closed")

    with running_server(config, services) as base:
        url = base.replace("http", "ws") + "/v1/dialog"
        t = threading.Thread(target=lambda: asyncio.run(client(url)))
        t.start()
        assert replying.wait(20)
        assert httpx.get(base + "/readyz").status_code == 200
    # leaving the block shut the server down while the reply was being synthesized
    t.join(20)
    assert received[-3:] == ["reply.done", "session.closed", "connection closed"] or received[
        -2:
    ] == [
        "reply.done",
        "session.closed",
    ], received
