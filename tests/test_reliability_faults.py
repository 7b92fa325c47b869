"""Faults on a running engine: each one is contained, other sessions are unaffected, nothing leaks.

Every scenario runs while a *healthy* session completes a full turn beside it, then checks
that the engine holds no session, connection place, session slot, thread or fd it did not
hold before. Models are deterministic doubles with injected faults (the e2e tests use the
real ones); the engine, sockets, protocol, worker pool and security layer are the real code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import numpy as np
import psutil
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
from tests.engine_server import engine_test_config
from tingshuo.core.audio import Audio, float_to_pcm16
from tingshuo.engine.services import Services
from tingshuo.tts.base import VoiceInfo

TURN = np.concatenate([speech_like(0.8), silence(0.6)])


class FaultyRecognizer(ScriptedRecognizer):
    """Streams behave normally unless a fault mode was queued for the next stream."""

    def __init__(self) -> None:
        super().__init__(["你好"] * 20)
        self.next_faults: list[str] = []

    def create_stream(self, *, profile: str = "dialogue"):  # noqa: ANN201
        stream = super().create_stream(profile=profile)
        mode = self.next_faults.pop(0) if self.next_faults else ""
        if mode:
            real_decode = stream.decode

            def decode():  # noqa: ANN202
                if mode == "raise":
                    raise RuntimeError("injected recognizer failure")
                time.sleep(3.0)  # "hang": longer than model_timeout_s
                return real_decode()

            stream.decode = decode
        return stream


class FaultySynthesizer(ToneSynthesizer):
    """A tone synthesizer; the session's voice picks a fault: raise, hang or long (60 s)."""

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(v, "zh") for v in ("tone", "raise", "hang", "long")]

    def synthesize(self, text, style=None, voice=None) -> Audio:  # noqa: ANN001
        if voice == "raise":
            raise RuntimeError("injected synthesizer failure")
        if voice == "hang":
            time.sleep(3.0)
        if voice == "long":
            # Noise, so permessage-deflate cannot shrink it: 60 s really fills the socket.
            noise = np.random.default_rng(0).uniform(-0.3, 0.3, 60 * self.sample_rate)
            return Audio(noise.astype(np.float32), self.sample_rate)
        return super().synthesize(text, style, None)

    async def stream(self, text, style=None, voice=None, executor=None) -> AsyncIterator[Audio]:  # noqa: ANN001
        loop = asyncio.get_running_loop()
        for _ in range(3 if voice == "long" else 1):
            yield await loop.run_in_executor(executor, self.synthesize, text, style, voice)


@contextlib.contextmanager
def engine(**overrides: object) -> Iterator[tuple[str, object, FaultyRecognizer]]:
    """A real server with fault-injecting doubles; yields (base URL, EngineState, recognizer)."""
    from tingshuo.engine.app import create_app
    from tingshuo.engine.serve_cli import build_server

    config = engine_test_config(
        warmup=False, workers=3, outbound_queue=8, slow_reader_timeout_s=1.0
    )
    sec = dataclasses.replace(config.security, model_timeout_s=0.5, **overrides)
    config = dataclasses.replace(config, security=sec)
    bridge = KeywordEmotionBridge()
    recognizer = FaultyRecognizer()
    services = Services.load(
        config,
        recognizer=recognizer,
        synthesizer=FaultySynthesizer(),
        bridge=bridge,
        policy=EchoKnowledgePolicy(bridge),
    )
    app = create_app(config, services)
    server = build_server(config, app)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{config.server.port}"
    for _ in range(200):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        time.sleep(0.05)
    try:
        yield base, app.state.engine, recognizer
    finally:
        server.should_exit = True
        thread.join(30)


def _url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/v1/dialog"


async def _start(ws, **fields) -> dict:  # noqa: ANN001
    await ws.send(json.dumps({"type": "session.start", "sample_rate_in": 16000, **fields}))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def _send_audio(ws, audio: np.ndarray, realtime: bool = False) -> None:  # noqa: ANN001
    for i in range(0, len(audio), 640):
        await ws.send(float_to_pcm16(audio[i : i + 640]))
        if realtime:
            await asyncio.sleep(0.04)


async def healthy_turn(base: str) -> list[str]:
    """A normal session: one utterance, the whole reply, a clean close. Returns event types."""
    types: list[str] = []
    async with websockets.connect(_url(base)) as ws:
        assert (await _start(ws))["type"] == "session.started"
        await _send_audio(ws, TURN, realtime=True)
        while "reply.done" not in types:
            msg = await asyncio.wait_for(ws.recv(), 15)
            if isinstance(msg, str):
                event = json.loads(msg)
                types.append(event["type"])
                assert event["type"] != "error", event
        await ws.send(json.dumps({"type": "session.close"}))
        assert json.loads(await ws.recv())["type"] == "session.closed"
    return types


async def beside_healthy(base: str, fault) -> object:  # noqa: ANN001
    """Run ``fault()`` and a healthy turn at the same time; the healthy one must succeed."""
    healthy, result = await asyncio.gather(healthy_turn(base), fault())
    assert {"transcript.final", "reply.text", "reply.done"} <= set(healthy)
    return result


def _held_slots(state) -> int:  # noqa: ANN001
    leases = state.guard.limiter.store._leases
    now = time.monotonic()
    return sum(1 for held in leases.values() for exp in held.values() if exp > now)


def assert_clean(state, threads_before: int | None = None) -> None:  # noqa: ANN001
    """No session, connection place or session slot is left; threads back to the baseline."""
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        busy = state.sessions or state.dialog_connections or state.guard.cap.active
        if not busy and not _held_slots(state):
            break
        time.sleep(0.05)
    assert not state.sessions and state.dialog_connections == 0
    assert state.guard.cap.active == 0 and _held_slots(state) == 0
    metrics = state.services.metrics.export().decode()
    assert 'tingshuo_active_sessions{endpoint="dialog"} 0.0' in metrics
    if threads_before is not None:
        while time.monotonic() < deadline and psutil.Process().num_threads() > threads_before:
            time.sleep(0.05)
        assert psutil.Process().num_threads() <= threads_before


@pytest.fixture(scope="module")
def server():  # noqa: ANN201
    with engine() as running:
        yield running


def _baseline(base: str) -> tuple[int, int]:
    asyncio.run(healthy_turn(base))  # worker threads exist from here on
    proc = psutil.Process()
    return proc.num_threads(), proc.num_fds()


def test_client_disconnects_mid_utterance_and_mid_reply(server) -> None:  # noqa: ANN001
    base, state, _ = server
    threads, fds = _baseline(base)

    async def drop_mid_utterance() -> None:
        ws = await websockets.connect(_url(base))
        await _start(ws)
        await _send_audio(ws, speech_like(0.5))
        ws.transport.abort()  # no close frame: the TCP connection just goes away

    async def drop_mid_reply() -> None:
        ws = await websockets.connect(_url(base))
        await _start(ws, voice="long")  # 3 x 60 s of reply audio
        await _send_audio(ws, TURN)
        while not isinstance(await asyncio.wait_for(ws.recv(), 10), bytes):
            pass  # until the first reply audio frame
        ws.transport.abort()

    for fault in (drop_mid_utterance, drop_mid_reply):
        asyncio.run(beside_healthy(base, fault))
        assert_clean(state)
    for _ in range(5):  # repeated, nothing accumulates
        asyncio.run(drop_mid_reply())
    assert_clean(state, threads)
    assert psutil.Process().num_fds() <= fds + 2


def test_bad_client_input_gives_typed_errors(server) -> None:  # noqa: ANN001
    base, state, _ = server

    async def bad_inputs() -> dict[str, dict]:
        seen: dict[str, dict] = {}
        async with websockets.connect(_url(base)) as ws:  # binary before session.start
            await ws.send(b"\x00\x01")
            seen["binary_first"] = json.loads(await ws.recv())
        async with websockets.connect(_url(base)) as ws:
            await ws.send(json.dumps({"type": "session.start", "sample_rate_in": 12345}))
            seen["sample_rate"] = json.loads(await ws.recv())
        async with websockets.connect(_url(base)) as ws:
            await _start(ws)
            for name, msg in [
                ("malformed", "{not json"),
                ("deep", "[" * 100_000),
                ("unknown_type", json.dumps({"type": "make.coffee"})),
                ("no_type", json.dumps({"hello": 1})),
                ("odd_pcm", b"\x00\x01\x02"),
                ("oversize_frame", bytes(state.config.security.max_frame_bytes + 2)),
                ("start_twice", json.dumps({"type": "session.start"})),
            ]:
                await ws.send(msg)
                seen[name] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        return seen

    seen = asyncio.run(beside_healthy(base, bad_inputs))
    expect = {
        "binary_first": ("bad_state", True),
        "sample_rate": ("bad_message", False),
        "malformed": ("bad_message", False),
        "deep": ("bad_message", False),
        "unknown_type": ("bad_message", False),
        "no_type": ("bad_message", False),
        "odd_pcm": ("bad_audio", False),
        "oversize_frame": ("limit.frame_size", False),
        "start_twice": ("bad_state", False),
    }
    for name, (code, fatal) in expect.items():
        event = seen[name]
        assert event["type"] == "error" and event["code"] == code, (name, event)
        if name != "sample_rate":
            assert event["fatal"] is fatal, (name, event)
    assert_clean(state)


def test_slow_reader_is_cut_off_alone(server) -> None:  # noqa: ANN001
    base, state, _ = server

    async def slow_reader() -> None:
        async with websockets.connect(_url(base), max_queue=1) as ws:
            await _start(ws, voice="long", sample_rate_out=48000)
            await _send_audio(ws, TURN)
            # Never read: TCP and the outbound queue fill up; the engine gives up on this
            # client (slow_reader_timeout_s, then its writer's grace period), nobody else.
            deadline = time.monotonic() + 15
            while any(s.settings.voice == "long" for s in list(state.sessions)):
                assert time.monotonic() < deadline, "slow reader was never cut off"
                await asyncio.sleep(0.2)

    asyncio.run(beside_healthy(base, slow_reader))
    assert_clean(state)
    assert state.services.metrics.errors.labels("overloaded")._value.get() >= 1


def test_recognizer_that_raises_or_hangs(server) -> None:  # noqa: ANN001
    base, state, recognizer = server

    async def faulty_session() -> dict:
        async with websockets.connect(_url(base)) as ws:
            await _start(ws)
            await _send_audio(ws, TURN)
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if event["type"] == "error":
                    return event

    threads = None
    for _round in range(2):  # the second round must leave no more threads than the first
        for mode in ("raise", "hang"):
            recognizer.next_faults.append(mode)
            # The faulty session opens first so it takes the queued fault.
            event = asyncio.run(_with_head_start(faulty_session, lambda: healthy_turn(base)))
            assert event["code"] == "internal" and event["fatal"]
            assert "recognition failed" in event["message"]
            assert_clean(state)
        time.sleep(3)  # the hung decode (abandoned after model_timeout_s) ends in its thread
        threads = threads or psutil.Process().num_threads()
    assert_clean(state, threads)


async def _with_head_start(first, second) -> object:  # noqa: ANN001
    task = asyncio.create_task(first())
    await asyncio.sleep(0.3)
    healthy = await second()
    assert "reply.done" in healthy
    return await task


def test_synthesizer_that_raises_or_hangs(server) -> None:  # noqa: ANN001
    base, state, _ = server
    for voice in ("raise", "hang"):

        async def faulty_session(voice: str = voice) -> tuple[dict, list[str]]:
            async with websockets.connect(_url(base)) as ws:
                await _start(ws, voice=voice)
                await _send_audio(ws, TURN)
                error = None
                while error is None:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if event["type"] == "error":
                        error = event
                # The session goes on: it still answers a close.
                await ws.send(json.dumps({"type": "session.close"}))
                tail = [json.loads(m)["type"] async for m in ws if isinstance(m, str)]
                return error, tail

        error, tail = asyncio.run(beside_healthy(base, faulty_session))
        assert error["code"] == "internal" and not error["fatal"], error
        assert "reply failed" in error["message"]
        assert tail[-1] == "session.closed"
        assert_clean(state)


def test_full_disk_disables_the_cache_and_synthesis_goes_on(tmp_path, caplog) -> None:  # noqa: ANN001
    import logging
    import subprocess

    from tingshuo.tts.cache import CachedSynthesizer, SynthesisCache

    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root / CAP_SYS_ADMIN)")
    try:
        with open(mount / "filler", "wb") as f, contextlib.suppress(OSError):
            f.write(b"\0" * 200_000)  # fill it
        cache = SynthesisCache(mount / "synthesis")
        synth = CachedSynthesizer(ToneSynthesizer(), cache)
        with caplog.at_level(logging.WARNING):
            first = synth.synthesize("你好世界")
            second = synth.synthesize("你好世界")
        assert first.duration == pytest.approx(0.48, abs=0.01)
        assert second.duration == first.duration  # synthesized again, uncached
        assert not cache.enabled and cache.stats()["errors"] >= 1
        assert "synthesis cache disabled" in caplog.text
        assert not list((mount / "synthesis").rglob(".tmp-*"))  # no partial files left
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_circuit_breaker_switches_to_fallback_and_back() -> None:
    """A failing primary synthesizer: replies come from tts.fallback, then from it again."""
    from tingshuo.engine.app import create_app

    class Switchable(ToneSynthesizer):
        name = "primary"
        broken = False

        def synthesize(self, text, style=None, voice=None) -> Audio:  # noqa: ANN001
            if self.broken:
                raise RuntimeError("primary down")
            return super().synthesize(text, style, voice)

    class Backup(ToneSynthesizer):
        name = "backup"
        sample_rate = 16000

    config = engine_test_config(warmup=False)
    primary = Switchable()
    bridge = KeywordEmotionBridge()
    services = Services.load(
        config,
        recognizer=FaultyRecognizer(),
        synthesizer=primary,
        fallback_synthesizer=Backup(),
        bridge=bridge,
        policy=EchoKnowledgePolicy(bridge),
    )
    breaker = services.synthesizer.breaker
    breaker.reset_timeout_s = 0.5
    from fastapi.testclient import TestClient

    with TestClient(create_app(config, services)) as client:

        def synth() -> int:
            r = client.post("/api/synthesize", json={"text": "你好", "format": "base64"})
            assert r.status_code == 200, r.text
            return r.json()["sample_rate"]

        assert synth() == 24000
        primary.broken = True
        rates = [synth() for _ in range(5)]
        assert rates == [16000] * 5  # every request still answered, by the fallback
        metrics = client.get("/metrics").text
        assert 'tingshuo_circuit_state{name="tts.primary"} 2.0' in metrics
        assert 'tingshuo_circuit_transitions_total{name="tts.primary",state="open"} 1.0' in metrics
        primary.broken = False
        time.sleep(0.6)
        assert synth() == 24000  # recovered: back on the primary
        metrics = client.get("/metrics").text
        assert 'tingshuo_circuit_state{name="tts.primary"} 0.0' in metrics
        assert (
            'tingshuo_circuit_transitions_total{name="tts.primary",state="closed"} 1.0' in metrics
        )
