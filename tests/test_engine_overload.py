"""Overload is survivable: priorities, admission control, deadlines, streamed HTTP audio.

Deterministic fakes only (no models): a worker pool fed jobs that block on events, a
segment synthesizer that sleeps per segment and counts what it rendered, and the
engine doubles of tests/engine_doubles.py.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import wave

import httpx
import numpy as np
import pytest

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
    silence,
    speech_like,
)
from tests.engine_server import engine_test_config, running_server
from tests.test_engine_session import feed, make_services, open_session
from tingshuo.core.audio import Audio
from tingshuo.engine.events import ErrorEvent, ReplyDone, SessionStart
from tingshuo.engine.metrics import Metrics
from tingshuo.engine.services import Services
from tingshuo.engine.session import Session
from tingshuo.engine.workers import DeadlineExceededError, OverloadedError, Priority, WorkerPool
from tingshuo.tts.base import VoiceInfo
from tingshuo.tts.pipeline import PlannedSegment, SegmentSynthesizer

SENTENCE = "今天天气很好。"  # one segment each (max_segment_chars=8)


class SlowSegments(SegmentSynthesizer):
    """Sleeps ``delay`` per segment and counts the segments it rendered (thread-safe)."""

    name = "slow"
    sample_rate = 16000
    model_version = "test"

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__("slow", max_segment_chars=8, first_segment_chars=8, parallel_segments=2)
        self.delay = delay
        self.rendered = 0
        self._count = threading.Lock()

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("slow", "zh")]

    def segment_audio(self, segment: PlannedSegment, voice: str) -> Audio:
        time.sleep(self.delay)
        with self._count:
            self.rendered += 1
        return Audio(np.full(1600, 0.1, np.float32), self.sample_rate)  # 0.1 s per segment


def _services(synth: object, **server: object) -> tuple[Services, object]:
    config = engine_test_config(warmup=False, **server)
    bridge = KeywordEmotionBridge()
    services = Services.load(
        config,
        recognizer=ScriptedRecognizer(["你好"]),
        synthesizer=synth,
        bridge=bridge,
        policy=EchoKnowledgePolicy(bridge),
    )
    return services, config


def _wav_bytes(seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((speech_like(seconds) * 32767).astype(np.int16).tobytes())
    return buf.getvalue()


# ---- (a) priorities -----------------------------------------------------------------------


def test_a_final_is_never_starved_by_partials_under_load() -> None:
    """One worker busy, many sessions' partial decodes queued, then a final: it runs next."""

    async def main() -> None:
        pool = WorkerPool(1, 64, Metrics())
        order: list[str] = []
        gate = threading.Event()

        def slow_decode(name: str) -> str:  # the fake decoder: 20 ms a call
            time.sleep(0.02)
            order.append(name)
            return name

        blocker = asyncio.create_task(pool.run("asr", gate.wait, priority=Priority.PARTIAL))
        while pool.running == 0:
            await asyncio.sleep(0.001)
        partials = [
            asyncio.create_task(
                pool.run("asr", slow_decode, f"partial-{i}", priority=Priority.PARTIAL)
            )
            for i in range(20)  # 20 sessions' partials, queued first
        ]
        await asyncio.sleep(0.01)
        interactive = asyncio.create_task(pool.run("tts", slow_decode, "http"))
        reply = asyncio.create_task(
            pool.run("emotion", slow_decode, "reply", priority=Priority.REPLY)
        )
        final = asyncio.create_task(pool.run("asr", slow_decode, "final", priority=Priority.FINAL))
        await asyncio.sleep(0.01)
        assert pool.waiting(Priority.PARTIAL) == 20 and pool.ahead_of(Priority.FINAL) == 1
        gate.set()
        await asyncio.gather(blocker, *partials, interactive, reply, final)
        assert order[:3] == ["final", "reply", "http"]  # submitted last, run first
        assert order[3:] == [f"partial-{i}" for i in range(20)]  # FIFO within a class
        pool.shutdown()

    asyncio.run(main())


def test_a_queued_partial_whose_stream_reaches_its_endpoint_moves_up() -> None:
    """The decode queued as a partial will now return the final: it must not wait behind
    other sessions' partials or HTTP work."""

    async def main() -> None:
        pool = WorkerPool(1, 64, Metrics())
        gate = threading.Event()
        order: list[str] = []
        endpoint = False
        blocker = asyncio.create_task(pool.run("asr", gate.wait, priority=Priority.PARTIAL))
        while pool.running == 0:
            await asyncio.sleep(0.001)
        others = [
            asyncio.create_task(pool.run("asr", order.append, f"other-{i}", priority=p))
            for i, p in enumerate([Priority.PARTIAL, Priority.INTERACTIVE] * 5)
        ]

        def klass() -> Priority:
            return Priority.FINAL if endpoint else Priority.PARTIAL

        mine = asyncio.create_task(pool.run("asr", order.append, "mine", priority=klass))
        await asyncio.sleep(0.01)
        assert pool.waiting(Priority.PARTIAL) == 6
        endpoint = True  # the VAD closed the utterance while the decode waited
        gate.set()
        await asyncio.gather(blocker, mine, *others)
        assert order[0] == "mine"
        pool.shutdown()

    asyncio.run(main())


def test_a_reserved_worker_starts_a_final_while_http_segments_hold_the_other() -> None:
    async def main() -> None:
        pool = WorkerPool(2, 64, Metrics(), reserved=1)
        gate = threading.Event()
        peak = 0

        def segment() -> None:
            nonlocal peak
            peak = max(peak, pool.running)
            gate.wait()

        http = [asyncio.create_task(pool.run("synthesize", segment)) for _ in range(4)]
        await asyncio.sleep(0.05)
        assert pool.running == 1 and pool.waiting(Priority.INTERACTIVE) == 3
        t0 = time.perf_counter()
        await pool.run("asr", time.sleep, 0, priority=Priority.FINAL)  # not behind the gate
        assert time.perf_counter() - t0 < 1.0
        gate.set()
        await asyncio.gather(*http)
        assert peak == 1  # HTTP work never took the reserved worker
        pool.shutdown()

    asyncio.run(main())


def test_session_decodes_finals_as_final_and_partials_as_partial() -> None:
    async def main() -> None:
        services = make_services(["你好"])
        session, client = await open_session(services, SessionStart(sample_rate_out=16000))
        await feed(session, speech_like(1.0))
        await asyncio.sleep(0.1)  # the partial decode of the speech so far
        await feed(session, silence(0.6), realtime=True)  # the endpoint's decode
        await client.wait_for(ReplyDone)
        await session.close("test over")
        await client.task
        text = services.metrics.export().decode()
        assert 'tingshuo_scheduled_jobs_total{outcome="done",priority="partial"}' in text
        assert 'tingshuo_scheduled_jobs_total{outcome="done",priority="final"}' in text
        assert 'tingshuo_scheduled_jobs_total{outcome="done",priority="reply"}' in text
        # reply synthesis went through the scheduler, one job per segment
        assert 'tingshuo_stage_seconds_count{stage="reply_segment"}' in text
        await services.close()

    asyncio.run(main())


def test_deadline_and_cancellation_drop_jobs_before_they_start() -> None:
    async def main() -> None:
        pool = WorkerPool(1, 8, Metrics())
        gate = threading.Event()
        ran: list[str] = []
        blocker = asyncio.create_task(pool.run("x", gate.wait))
        while pool.running == 0:
            await asyncio.sleep(0.001)
        expired = asyncio.create_task(
            pool.run("x", ran.append, "late", deadline=time.monotonic() + 0.01)
        )
        cancelled = asyncio.create_task(pool.run("x", ran.append, "cancelled"))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        await asyncio.sleep(0.01)
        assert pool.waiting() == 1  # the cancelled job stopped counting at once
        gate.set()
        await blocker
        with pytest.raises(DeadlineExceededError):
            await expired
        await asyncio.gather(cancelled, return_exceptions=True)
        await pool.run("x", ran.append, "on time")
        assert ran == ["on time"]  # neither the late nor the cancelled job ever ran
        pool.shutdown()

    asyncio.run(main())


# ---- (b) admission, (e) saturation visible --------------------------------------------------


def test_saturation_shows_in_metrics_even_when_callers_gave_up() -> None:
    """The old gauge said 0 while threads were busy: counts now follow the threads."""

    async def main() -> None:
        metrics = Metrics()
        pool = WorkerPool(1, 8, metrics, timeout_s=0.05, limits={Priority.INTERACTIVE: 1})
        gate = threading.Event()
        with pytest.raises(TimeoutError):  # the caller gives up; the thread still runs
            await pool.run("synthesize", gate.wait)
        queued = [asyncio.create_task(pool.run("synthesize", time.sleep, 0)) for _ in range(3)]
        await asyncio.sleep(0.02)
        text = metrics.export().decode()
        assert "tingshuo_workers_busy 1.0" in text
        assert 'tingshuo_queue_waiting{priority="interactive"} 3.0' in text
        assert "tingshuo_queue_depth 4.0" in text
        assert pool.saturated(Priority.INTERACTIVE)
        assert not pool.saturated(Priority.FINAL) and not pool.saturated(Priority.REPLY)
        with pytest.raises(OverloadedError) as refused:
            pool.admit(Priority.INTERACTIVE)
        assert 1 <= refused.value.retry_after_s <= 60
        assert 'tingshuo_rejected_total{priority="interactive"} 1.0' in metrics.export().decode()
        gate.set()
        await asyncio.gather(*queued)
        assert "tingshuo_queue_depth 0.0" in metrics.export().decode()
        pool.shutdown()

    asyncio.run(main())


def test_sessions_keep_replying_while_http_requests_are_refused() -> None:
    async def main() -> None:
        services = make_services(["你好"], max_requests_in_flight=1)
        services.start()
        assert services.pool is not None
        with services.pool.request():  # a long HTTP request holds the only HTTP slot
            with pytest.raises(OverloadedError):
                services.admit(Priority.INTERACTIVE)
            session, client = await open_session(services, SessionStart(sample_rate_out=16000))
            await feed(session, speech_like(1.0))
            await feed(session, silence(0.6))
            await client.wait_for(ReplyDone)
            assert not client.of(ErrorEvent)
            await session.close("test over")
            await client.task
        services.admit(Priority.INTERACTIVE)  # free again
        await services.close()

    asyncio.run(main())


def test_a_saturated_reply_class_is_an_overloaded_event_and_the_session_goes_on() -> None:
    async def main() -> None:
        services = make_services(["你好", "谢谢"])
        services.start()
        assert services.pool is not None
        session, client = await open_session(services, SessionStart(sample_rate_out=16000))
        services.pool.limits[Priority.REPLY] = -1  # everything counts as saturated
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.6))
        error = await client.wait_for(ErrorEvent)
        assert isinstance(error, ErrorEvent)
        assert error.code == "overloaded" and not error.fatal
        services.pool.limits[Priority.REPLY] = 64
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.6))
        await client.wait_for(ReplyDone)  # the same session replies to the next utterance
        assert not session.closed
        await session.close("test over")
        await client.task
        await services.close()

    asyncio.run(main())


def test_http_is_503_with_retry_after_when_saturated_and_readyz_says_so() -> None:
    synth = SlowSegments(delay=0.2)
    services, config = _services(synth, max_requests_in_flight=1)
    text = SENTENCE * 100  # ~10 s of synthesis on two workers: still running while we check
    with running_server(config, services) as base, httpx.Client(timeout=30) as http:
        with http.stream(
            "POST", base + "/api/synthesize", json={"text": text, "format": "wav"}
        ) as r:
            assert r.status_code == 200
            body = r.iter_bytes()  # keep the iterator: dropping it closes the connection
            next(body)  # streaming: the long request holds the slot
            for method, url, kwargs in (
                ("POST", "/api/synthesize", {"json": {"text": "你好", "format": "base64"}}),
                ("POST", "/v1/audio/speech", {"json": {"input": "你好"}}),
                ("POST", "/v1/audio/transcriptions", {"files": {"file": ("a.wav", _wav_bytes())}}),
            ):
                refused = http.request(method, base + url, **kwargs)
                assert refused.status_code == 503, (url, refused.text)
                assert refused.json()["error"]["code"] == "overloaded"
                assert 1 <= int(refused.headers["Retry-After"]) <= 60
            ready = http.get(base + "/readyz")
            assert ready.status_code == 200
            assert ready.json()["saturated"] is True
            assert ready.json()["queue"]["requests_in_flight"] == 1
            metrics = http.get(base + "/metrics").text
            assert "tingshuo_saturated 1.0" in metrics
            assert "tingshuo_requests_in_flight 1.0" in metrics
        deadline = time.monotonic() + 5
        while http.get(base + "/readyz").json()["saturated"] and time.monotonic() < deadline:
            time.sleep(0.05)
        ok = http.post(base + "/api/synthesize", json={"text": "你好", "format": "base64"})
        assert ok.status_code == 200, ok.text


# ---- (c) deadline and disconnect, (d) streaming -----------------------------------------------


def test_client_disconnect_stops_the_remaining_segments() -> None:
    synth = SlowSegments(delay=0.05)
    services, config = _services(synth)
    text = SENTENCE * 80
    with running_server(config, services) as base:
        with (
            httpx.Client(timeout=30) as http,
            http.stream(
                "POST", base + "/v1/audio/speech", json={"input": text, "response_format": "pcm"}
            ) as r,
        ):
            assert r.status_code == 200
            body = r.iter_bytes()
            next(body)
            time.sleep(0.2)
            assert synth.rendered >= 4  # still synthesizing while the client is there
        at_close = synth.rendered
        time.sleep(1.0)  # 80 segments would take ~2 s on two workers if nothing stopped them
        after = synth.rendered
    assert after <= at_close + 3, (at_close, after)  # at most what was already in flight
    assert after < 40


def test_deadline_ends_model_work_with_504_not_500() -> None:
    synth = SlowSegments(delay=0.05)
    services, config = _services(synth, request_timeout_s=0.3)
    text = SENTENCE * 80
    with running_server(config, services) as base:
        r = httpx.post(
            base + "/api/synthesize", json={"text": text, "format": "base64"}, timeout=30
        )
        assert r.status_code == 504, r.text
        assert r.json()["error"]["code"] == "deadline_exceeded"
        at_answer = synth.rendered
        time.sleep(0.5)
        assert synth.rendered <= at_answer + 2  # nothing new starts after the deadline
    assert synth.rendered < 40


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/synthesize", {"format": "wav"}),
        ("/v1/audio/speech", {"response_format": "wav"}),
        ("/v1/audio/speech", {"response_format": "pcm"}),
        ("/v1/audio/speech", {"response_format": "mp3"}),
    ],
)
def test_streamed_audio_arrives_before_the_last_segment_is_synthesized(
    url: str, body: dict
) -> None:
    synth = SlowSegments(delay=0.03)
    services, config = _services(synth)
    n = 40
    key = "text" if url == "/api/synthesize" else "input"
    with running_server(config, services) as base, httpx.Client(timeout=30) as http:
        with http.stream("POST", base + url, json={key: SENTENCE * n, **body}) as r:
            assert r.status_code == 200
            assert r.headers.get("transfer-encoding") == "chunked"
            chunks = r.iter_bytes()
            first = next(chunks)
            rendered_at_first_byte = synth.rendered
            data = first + b"".join(chunks)
        assert rendered_at_first_byte < n // 2, rendered_at_first_byte
        assert synth.rendered == n
    fmt = body.get("format") or body.get("response_format")
    if fmt == "wav":  # a streaming header (unknown length), then every segment's samples
        assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
        assert len(data) - 44 == n * 1600 * 2  # 16 kHz model rate, 16-bit
    elif fmt == "pcm":  # OpenAI's 24 kHz s16le
        assert len(data) == pytest.approx(n * 2400 * 2, rel=0.01)
    else:  # a whole mp3 a client reading the body can decode
        import av

        with av.open(io.BytesIO(data)) as container:
            seconds = sum(f.samples for f in container.decode(audio=0)) / 24000
        assert seconds == pytest.approx(n * 0.1, abs=0.1)


def test_openai_sse_stream_format() -> None:
    services, config = _services(SlowSegments(delay=0.0))
    with running_server(config, services) as base:
        r = httpx.post(
            base + "/v1/audio/speech",
            json={"input": SENTENCE * 3, "response_format": "pcm", "stream_format": "sse"},
            timeout=30,
        )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line for line in r.text.splitlines() if line.startswith("data: ")]
    assert '"speech.audio.delta"' in events[0] and '"speech.audio.done"' in events[-1]


# ---- (f) the port answers while models load -----------------------------------------------------


def test_port_answers_503_loading_until_models_are_warm() -> None:
    release = threading.Event()

    class SlowToWarm(ToneSynthesizer):
        def synthesize(self, text, style=None, voice=None) -> Audio:  # noqa: ANN001
            release.wait(30)
            return super().synthesize(text, style, voice)

    from tingshuo.engine.app import create_app
    from tingshuo.engine.serve_cli import build_server

    config = engine_test_config(warmup=True)
    bridge = KeywordEmotionBridge()
    services = Services.load(
        config,
        recognizer=ScriptedRecognizer(["你好"]),
        synthesizer=SlowToWarm(),
        bridge=bridge,
        policy=EchoKnowledgePolicy(bridge),
    )
    server = build_server(config, create_app(config, services))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{config.server.port}"
    try:
        deadline = time.monotonic() + 20
        while True:  # the port opens although the warm-up is still blocked
            try:
                r = httpx.get(base + "/readyz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the port did not open while loading"
                time.sleep(0.05)
        assert r.status_code == 503 and r.json()["reason"] == "loading"
        assert httpx.get(base + "/healthz").status_code == 200
        s = httpx.post(base + "/api/synthesize", json={"text": "你好"})
        assert s.status_code == 503 and s.json()["error"]["code"] == "loading"
        assert "Retry-After" in s.headers
        release.set()
        while httpx.get(base + "/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ok = httpx.post(base + "/api/synthesize", json={"text": "你好", "format": "base64"})
        assert ok.status_code == 200
    finally:
        release.set()
        server.should_exit = True
        thread.join(30)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_stream_encoder_output_decodes_whole(fmt: str) -> None:
    """Chunk by chunk, every format still decodes as the whole audio (OpenAI clients that
    read the entire body)."""
    import av

    from tingshuo.engine.audio_encode import StreamEncoder

    t = np.arange(24000) / 24000
    second = Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 24000)
    encoder = StreamEncoder(fmt, 24000)
    data = b"".join(encoder.feed(second) for _ in range(3)) + encoder.finish()
    if fmt == "pcm":
        assert len(data) == 3 * 24000 * 2
        return
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    seconds = sum(f.samples for f in frames) / frames[0].sample_rate
    assert seconds == pytest.approx(3.0, abs=0.1)


def test_a_client_that_stops_reading_loses_its_stream_after_the_timeout() -> None:
    """Its synthesis is closed (slot released) instead of waiting as long as the socket lives."""
    from tingshuo.engine.http_tts import BoundedStreamingResponse

    closed = asyncio.Event()

    async def body():  # noqa: ANN202
        try:
            while True:
                yield b"x" * 1024
        finally:
            closed.set()

    async def main() -> None:
        sent: list[dict] = []

        async def stuck_send(message: dict) -> None:
            sent.append(message)
            if message.get("body"):  # the client takes the headers, then no more
                await asyncio.sleep(3600)

        metrics = Metrics()
        response = BoundedStreamingResponse(body(), send_timeout_s=0.1, metrics=metrics)
        await asyncio.wait_for(response.stream_response(stuck_send), 5)
        assert closed.is_set()
        assert sent[0]["type"] == "http.response.start"
        assert 'tingshuo_errors_total{kind="slow_reader"} 1.0' in metrics.export().decode()

    asyncio.run(main())


def test_a_prefetch_of_a_likely_final_is_scheduled_as_a_final() -> None:
    """Once the user has gone quiet, the stream's next decode prefetches the final: it runs
    in the FINAL class (the reserved worker may take it) and is started even when partials
    would be shed; while the user speaks, decodes are partials."""

    class Quiet:
        is_endpoint = False
        is_ready = True

        def __init__(self, prefetch_due: bool) -> None:
            self.prefetch_due = prefetch_due

    async def main() -> None:
        services = make_services(["你好"])
        session = Session(services, SessionStart(sample_rate_out=16000))
        await session.open()
        session._stream = Quiet(prefetch_due=True)  # type: ignore[assignment]
        assert session._decode_priority() is Priority.FINAL
        assert session._decode_worthwhile()
        session._stream = Quiet(prefetch_due=False)  # type: ignore[assignment]
        assert session._decode_priority() is Priority.PARTIAL
        session._stream = None
        await session.close("test over")
        await services.close()

    asyncio.run(main())
