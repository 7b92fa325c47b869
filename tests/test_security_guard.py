"""Security wired into the running engine: auth, tokens, origins, limits, caps, timeouts.

Real sockets (uvicorn on 127.0.0.1) with the deterministic model doubles: these tests are
about the security layer, not the models (the e2e tests cover those).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import logging

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
from tingshuo.core.audio import float_to_pcm16
from tingshuo.engine.security.keys import generate_key, hash_key
from tingshuo.engine.security.redact import install_redaction
from tingshuo.engine.services import Services

KEYS = [generate_key() for _ in range(6)]


@contextlib.contextmanager
def serve(**security: object):
    """An engine with auth on (KEYS accepted) and the given security overrides."""
    config = engine_test_config(warmup=False)
    fields = {
        "auth": True,
        "api_key_hashes": tuple(hash_key(k) for k in KEYS),
        "token_secret": "test-token-secret-1234",
        **security,
    }
    config = dataclasses.replace(config, security=dataclasses.replace(config.security, **fields))
    bridge = KeywordEmotionBridge()
    services = Services(
        config, ScriptedRecognizer(["你好"]), ToneSynthesizer(), bridge, EchoKnowledgePolicy(bridge)
    )
    with running_server(config, services) as base:
        yield base


@pytest.fixture(scope="module")
def server():  # noqa: ANN201
    with serve(allowed_origins=("https://app.example.com",)) as base:
        yield base


def ws_url(base: str, path: str = "/v1/dialog") -> str:
    return base.replace("http", "ws", 1) + path


async def start(ws, token: str = "") -> dict:  # noqa: ANN001
    await ws.send(json.dumps({"type": "session.start", "token": token}))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


def test_http_auth_codes(server: str) -> None:
    url = server + "/api/synthesize"
    body = {"text": "你好", "format": "base64"}
    r = httpx.post(url, json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.missing"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.post(url, json=body, headers={"X-API-Key": "tsk_wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.invalid"
    r = httpx.post(url, json=body, headers={"Authorization": "Basic eDp5"})
    assert r.json()["error"]["code"] == "auth.invalid"
    assert httpx.post(url, json=body, headers={"X-API-Key": KEYS[0]}).status_code == 200
    r = httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEYS[0]}"})
    assert r.status_code == 200
    assert httpx.get(server + "/healthz").status_code == 200  # ops stay open


def test_token_endpoint_and_token_use(server: str) -> None:
    assert httpx.post(server + "/api/token").json()["error"]["code"] == "auth.missing"
    r = httpx.post(server + "/api/token", headers={"X-API-Key": KEYS[1]}, json={"ttl_s": 60})
    assert r.status_code == 200
    token = r.json()["token"]
    assert token.startswith("tst1.") and r.json()["expires_in"] == 60
    r = httpx.post(
        server + "/api/synthesize",
        json={"text": "你好", "format": "base64"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = httpx.post(server + "/api/token", headers={"Authorization": f"Bearer {forged}"})
    assert r.json()["error"]["code"] == "auth.invalid"

    async def main() -> None:
        async with websockets.connect(ws_url(server)) as ws:
            assert (await start(ws, token))["type"] == "session.started"

    asyncio.run(main())


def test_expired_token_is_refused(server: str) -> None:
    from tingshuo.engine.security.tokens import TokenSigner

    signer = TokenSigner("test-token-secret-1234", 1, clock=lambda: 1000.0)  # expired long ago
    token, _ = signer.issue("k_x")
    r = httpx.post(server + "/api/token", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.expired"

    async def main() -> None:
        async with websockets.connect(ws_url(server)) as ws:
            err = await start(ws, token)
            assert err["type"] == "error" and err["code"] == "auth.expired" and err["fatal"]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008

    asyncio.run(main())


def test_ws_auth_and_origin(server: str) -> None:
    async def main() -> None:
        async with websockets.connect(ws_url(server)) as ws:
            err = await start(ws)
            assert err["code"] == "auth.missing"
        async with websockets.connect(ws_url(server)) as ws:
            assert (await start(ws, "tsk_bogus"))["code"] == "auth.invalid"
        async with websockets.connect(ws_url(server)) as ws:
            assert (await start(ws, KEYS[2]))["type"] == "session.started"
        # A key in a header works for non-browser clients.
        async with websockets.connect(
            ws_url(server), additional_headers={"X-API-Key": KEYS[2]}
        ) as ws:
            assert (await start(ws))["type"] == "session.started"
        async with websockets.connect(ws_url(server), origin="https://app.example.com") as ws:
            assert (await start(ws, KEYS[2]))["type"] == "session.started"
        for origin in ("https://evil.example.com", "null", "https://app.example.com:8443"):
            async with websockets.connect(ws_url(server), origin=origin) as ws:
                err = json.loads(await ws.recv())  # refused before any session.start
                assert err["code"] == "origin.forbidden" and err["fatal"]
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 1008

    asyncio.run(main())


def test_funasr_endpoint_auth(server: str) -> None:
    config = json.dumps({"mode": "offline", "wav_name": "t", "is_speaking": True})

    async def main() -> None:
        async with websockets.connect(ws_url(server, "/v1/asr")) as ws:
            err = json.loads(await ws.recv())
            assert err["code"] == "auth.missing" and err["is_end"]
        token = httpx.post(server + "/api/token", headers={"X-API-Key": KEYS[3]}).json()["token"]
        for kwargs in ({"additional_headers": {"Authorization": f"Bearer {KEYS[3]}"}}, {}):
            url = ws_url(server, "/v1/asr") + ("" if kwargs else f"?token={token}")
            async with websockets.connect(url, **kwargs) as ws:
                await ws.send(config)
                await ws.send(float_to_pcm16(speech_like(0.5)))
                await ws.send(json.dumps({"is_speaking": False}))
                result = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert result["mode"] == "offline" and result["is_final"]

    asyncio.run(main())


def test_no_key_or_token_reaches_the_logs(server: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    install_redaction(["test-token-secret-1234"])
    try:
        token = httpx.post(server + "/api/token", headers={"X-API-Key": KEYS[4]}).json()["token"]
        httpx.post(server + "/api/token", headers={"X-API-Key": KEYS[4] + "x"})

        async def main() -> None:
            async with websockets.connect(ws_url(server)) as ws:
                await start(ws, token)
                await ws.send(json.dumps({"type": "session.close"}))
            async with websockets.connect(ws_url(server, "/v1/asr") + f"?token={token}") as ws:
                await ws.send("{bad")
                await ws.recv()

        asyncio.run(main())
        # Log what a careless handler would: the raw credentials.
        logging.getLogger("engine.test").warning("client sent Bearer %s and %s", KEYS[4], token)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = stream.getvalue()
    assert "client sent" in text
    for secret in (KEYS[4], token, "test-token-secret-1234"):
        assert secret not in text


def test_request_rate_limit_per_key_then_per_address() -> None:
    with serve(http_requests_per_min=3, http_requests_per_min_per_ip=5) as base:
        url = base + "/api/voices"
        codes = [httpx.get(url, headers={"X-API-Key": KEYS[0]}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = httpx.get(url, headers={"X-API-Key": KEYS[0]})
        assert r.json()["error"]["code"] == "rate.requests" and int(r.headers["retry-after"]) >= 1
        assert httpx.get(url, headers={"X-API-Key": KEYS[1]}).status_code == 200
        # 5 per address; refused requests took nothing, so one more key fits, then none.
        assert httpx.get(url, headers={"X-API-Key": KEYS[2]}).status_code == 200
        r = httpx.get(url, headers={"X-API-Key": KEYS[3]})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate.requests"
        assert httpx.get(url, headers={"X-API-Key": "tsk_bad"}).status_code == 429


def test_session_limits_and_connection_cap() -> None:
    async def main(base: str) -> None:
        async with websockets.connect(ws_url(base)) as a:
            assert (await start(a, KEYS[0]))["type"] == "session.started"
            async with websockets.connect(ws_url(base)) as b:
                err = await start(b, KEYS[0])  # same key: 1 concurrent session allowed
                assert err["code"] == "rate.sessions"
            async with websockets.connect(ws_url(base)) as c:
                assert (await start(c, KEYS[1]))["type"] == "session.started"
                async with websockets.connect(ws_url(base)) as d:  # cap of 2 reached
                    err = json.loads(await d.recv())
                    assert err["code"] == "capacity.full"
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await d.recv()
                    assert closed.value.rcvd.code == 1013
        await asyncio.sleep(0.3)
        async with websockets.connect(ws_url(base)) as e:  # places were released
            assert (await start(e, KEYS[0]))["type"] == "session.started"

    with serve(max_sessions=2, max_sessions_per_key=1) as base:
        asyncio.run(main(base))


def test_audio_rate_frame_size_and_body_size() -> None:
    async def main(base: str) -> None:
        async with websockets.connect(ws_url(base)) as ws:
            await start(ws, KEYS[0])
            await ws.send(bytes(5000))  # over max_frame_bytes: refused, session goes on
            err = json.loads(await ws.recv())
            assert err["code"] == "limit.frame_size" and not err["fatal"]
            frame = float_to_pcm16(silence(0.1))
            got = None
            for _ in range(40):  # 4 s of audio against 3 s/min
                await ws.send(frame)
            while got is None:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] == "error":
                    got = msg
            assert got["code"] == "rate.audio" and got["fatal"]

    with serve(max_frame_bytes=4000, audio_seconds_per_min=3.0, max_upload_bytes=1000) as base:
        asyncio.run(main(base))
        limit = 1000 + 64 * 1024
        files = {"file": ("a.wav", b"\0" * (limit + 10), "audio/wav")}
        r = httpx.post(
            base + "/v1/audio/transcriptions", files=files, headers={"X-API-Key": KEYS[1]}
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "limit.upload_size"

        def chunks():  # no Content-Length: counted while streaming
            for _ in range(100):
                yield b"x" * 1000

        r = httpx.post(
            base + "/api/synthesize",
            content=chunks(),
            headers={"X-API-Key": KEYS[1], "Content-Type": "application/json"},
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "limit.upload_size"
        ok = httpx.post(
            base + "/api/synthesize",
            json={"text": "好", "format": "base64"},
            headers={"X-API-Key": KEYS[1]},
        )
        assert ok.status_code == 200


def test_idle_and_total_session_timeouts() -> None:
    async def idle(base: str) -> None:
        async with websockets.connect(ws_url(base)) as ws:  # idle before session.start
            err = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert err["code"] == "timeout.idle"
        async with websockets.connect(ws_url(base)) as ws:
            await start(ws, KEYS[0])
            msgs = [json.loads(await asyncio.wait_for(ws.recv(), 8)) for _ in range(2)]
            assert msgs[0]["code"] == "timeout.idle" and msgs[1]["type"] == "session.closed"

    async def total(base: str) -> None:
        async with websockets.connect(ws_url(base)) as ws:  # busy, but past the total
            await start(ws, KEYS[0])
            frame = float_to_pcm16(np.zeros(320, np.float32))
            seen = []

            async def talk() -> None:
                with contextlib.suppress(websockets.ConnectionClosed):
                    for _ in range(400):
                        await ws.send(frame)
                        await asyncio.sleep(0.02)

            sender = asyncio.create_task(talk())
            with contextlib.suppress(websockets.ConnectionClosed):
                async for msg in ws:
                    seen.append(json.loads(msg))
            sender.cancel()
            errors = [m for m in seen if m["type"] == "error"]
            assert errors and errors[0]["code"] == "timeout.session", seen

    with serve(idle_timeout_s=0.5, session_timeout_s=0) as base:
        asyncio.run(idle(base))
    with serve(idle_timeout_s=0, session_timeout_s=1.5) as base:
        asyncio.run(total(base))


def test_download_ids_are_never_paths(server: str) -> None:
    r = httpx.post(
        server + "/api/synthesize",
        json={"text": "你好", "format": "url"},
        headers={"X-API-Key": KEYS[5]},
    )
    url = r.json()["url"]
    file_id = url.rsplit("/", 1)[1]
    assert len(file_id) >= 22 and "/" not in file_id and "." not in file_id
    auth = {"X-API-Key": KEYS[5]}
    assert httpx.get(url).status_code == 200  # the unguessable URL is the capability
    for attempt in (
        "../../../../etc/passwd",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "....//....//etc/passwd",
        "/etc/passwd",
        file_id + "%2F..%2F..%2Fetc%2Fpasswd",
        file_id + ".wav",
        file_id[:-1] + ("A" if file_id[-1] != "A" else "B"),
        "%00" + file_id,
        "..\\..\\windows\\win.ini",
    ):
        r = httpx.get(f"{server}/download/{attempt}", headers=auth)
        assert r.status_code == 404, (attempt, r.status_code)
        assert b"root:" not in r.content


def test_webhooks_into_the_engines_network_are_refused(server: str) -> None:
    auth = {"X-API-Key": KEYS[5]}
    for hook in ("http://127.0.0.1:9/hook", "http://169.254.169.254/", "http://10.0.0.1/"):
        r = httpx.post(
            server + "/api/jobs", json={"text": "你好", "webhook_url": hook}, headers=auth
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "webhook.forbidden", r.text
    ok = httpx.post(server + "/api/jobs", json={"text": "你好"}, headers=auth)
    assert ok.status_code == 202
