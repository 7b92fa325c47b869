"""End to end over a real socket with the real models (Whisper + Kokoro).

A real clip goes in, its final transcript must be within a CER bound of the human reference,
and the spoken reply must be non-silent and transcribe back to the reply text. A second
test talks over a reply (barge-in). Models load once for the module.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.engine_real import cer, load_real_services, references, rms_dbfs
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.audio import Audio, read_audio
from tingshuo.engine.dialog_client import DialogClient
from tingshuo.engine.events import (
    EmotionEvent,
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyText,
    SessionStart,
    TranscriptFinal,
)

pytestmark = pytest.mark.slow
CLIP = "firered_aishell1_BAC009S0764W0121.wav"  # 甚至出现交易几乎停滞的情况 (AISHELL-1)
CLIP2 = "firered_aishell2_IT0011W0001.wav"  # 换一首歌


@pytest.fixture(scope="module")
def engine(asr_dev):  # noqa: ANN001, ANN201
    config = engine_test_config()
    services = load_real_services(config)
    # the stdlib loop (not uvloop): test_event_loop_is_never_blocked times its callbacks
    with running_server(config, services, loop="asyncio") as base:
        yield base, services


def padded(path, lead: float = 0.3, tail: float = 1.2) -> Audio:  # noqa: ANN001
    clip = read_audio(path, 16000)
    z = np.zeros
    return Audio(
        np.concatenate(
            [z(int(lead * 16000), np.float32), clip.samples, z(int(tail * 16000), np.float32)]
        ),
        16000,
    )


def test_real_clip_in_spoken_reply_out(engine, asr_dev) -> None:  # noqa: ANN001
    base, services = engine
    refs = references(asr_dev)

    async def main() -> DialogClient:
        url = base.replace("http", "ws") + "/v1/dialog"
        async with DialogClient(
            url, SessionStart(sample_rate_in=16000, sample_rate_out=24000)
        ) as client:
            await client.stream(padded(asr_dev / "wav" / CLIP), realtime=False)
            await client.wait_for(TranscriptFinal, 120)
            await client.wait_for(ReplyDone, 120)
            return client

    client = asyncio.run(main())
    final = client.of(TranscriptFinal)[0]
    assert cer(refs[CLIP], final.text) <= 0.25, final.text
    assert final.end_ms > final.start_ms
    assert client.of(EmotionEvent), "no emotion event"
    reply = client.of(ReplyText)[0]
    frames = client.of(ReplyAudio)
    assert [f.seq for f in frames] == list(range(len(frames)))
    audio = client.replies[reply.reply_id].audio(24000)
    assert audio.duration > 0.5
    assert rms_dbfs(audio.samples) > -35, "reply audio is silent"
    heard = services.recognizer.transcribe(audio.resample(16000))
    assert cer(reply.text, heard.text) <= 0.35, (reply.text, heard.text)


def test_barge_in_over_a_real_reply(engine, asr_dev) -> None:  # noqa: ANN001
    base, services = engine

    async def main() -> DialogClient:
        url = base.replace("http", "ws") + "/v1/dialog"
        async with DialogClient(url, SessionStart()) as client:
            await client.stream(padded(asr_dev / "wav" / CLIP2), realtime=False)
            await client.wait_for(ReplyAudio, 120)
            # the user talks over the reply as soon as it starts playing
            await client.stream(padded(asr_dev / "wav" / CLIP, lead=0.0), realtime=True)
            await client.wait_for(ReplyInterrupted, 60)
            await client.wait_for(TranscriptFinal, 120, count=2)
            return client

    client = asyncio.run(main())
    first_reply = client.of(ReplyText)[0]
    interrupted = client.of(ReplyInterrupted)[0]
    assert interrupted.reply_id == first_reply.reply_id
    got_ms = sum(f.duration_ms for f in client.of(ReplyAudio) if f.reply_id == first_reply.reply_id)
    assert interrupted.sent_ms == pytest.approx(got_ms, abs=1)
    assert 0 <= interrupted.played_ms <= interrupted.sent_ms
    assert first_reply.text.startswith(interrupted.heard_text)
    # nothing more of the interrupted reply after the interruption
    idx = [e for _, e in client.events].index(interrupted)
    later = [e for _, e in client.events][idx:]
    assert not [
        e
        for e in later
        if getattr(e, "reply_id", None) == first_reply.reply_id and e is not interrupted
    ]


def test_fused_emotion_picks_the_spoken_reply_emotion(engine, asr_dev) -> None:  # noqa: ANN001
    """The trained bridge fuses speech and text; the reply is rendered in the mapped emotion."""
    from tingshuo.core.emotions import Emotion
    from tingshuo.dialog.base import UserEmotion
    from tingshuo.dialog.bridge import TrainedBridge

    base, services = engine
    assert isinstance(services.bridge, TrainedBridge), "the packaged bridge checkpoint did not load"
    styles: list = []
    real = services.synthesizer

    class Recording:  # records the style every synthesis call is made with
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(real, name)

        def stream(self, text, style=None, voice=None, executor=None):  # noqa: ANN001, ANN201
            styles.append(style)
            return real.stream(text, style, voice, executor)

        def synthesize(self, text, style=None, voice=None):  # noqa: ANN001, ANN201
            styles.append(style)
            return real.synthesize(text, style, voice)

    async def main() -> DialogClient:
        url = base.replace("http", "ws") + "/v1/dialog"
        async with DialogClient(url, SessionStart(sample_rate_in=16000)) as client:
            await client.stream(padded(asr_dev / "wav" / CLIP), realtime=False)
            await client.wait_for(ReplyDone, 120)
            return client

    services.synthesizer = Recording()
    try:
        client = asyncio.run(main())
    finally:
        services.synthesizer = real
    event = client.of(EmotionEvent)[0]
    assert event.source == "fused"  # both the utterance audio and its transcript were used
    assert abs(sum(event.distribution.values()) - 1.0) < 0.01
    assert event.emotion == max(event.distribution, key=event.distribution.get)
    user = UserEmotion(
        Emotion(event.emotion),
        event.confidence,
        {Emotion(k): v for k, v in event.distribution.items()},
        event.source,
    )
    chosen = services.bridge.reply_style(user)
    reply = client.of(ReplyText)[0]
    assert (reply.emotion, reply.intensity) == (str(chosen.emotion), chosen.intensity)
    assert styles, "no synthesis call was made"
    assert all((s.emotion, s.intensity) == (chosen.emotion, chosen.intensity) for s in styles), (
        styles
    )


class LoopWatch:
    """Times every callback the engine's event loop runs (thread CPU time and wall time).

    asyncio's debug mode reports slow callbacks by wall time, which on a shared machine also
    counts time the thread was not scheduled; CPU time of the loop's own thread is what a
    blocking call (a model, file I/O, a long computation) shows up as.
    """

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self.worst_cpu = 0.0
        self.worst_wall = 0.0
        self.worst_what = ""
        self.callbacks = 0

    def __enter__(self) -> LoopWatch:
        import asyncio.events
        import threading
        import time

        original = asyncio.events.Handle._run
        watch = self

        def timed(handle: asyncio.events.Handle) -> None:
            if threading.current_thread().name != watch.thread_name:
                return original(handle)
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return original(handle)
            finally:
                cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
                watch.callbacks += 1
                watch.worst_wall = max(watch.worst_wall, wall)
                if cpu > watch.worst_cpu:
                    watch.worst_cpu, watch.worst_what = cpu, repr(handle)[:200]

        self._original = original
        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        import asyncio.events

        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]


def test_event_loop_is_never_blocked_during_a_session(engine, asr_dev) -> None:  # noqa: ANN001
    """A whole real session (audio in at real-time pace, partials, final, emotion, reply
    synthesis, audio out): no callback on the engine's event loop takes 50 ms of CPU — the
    models, the synthesis cache and file I/O all run on worker threads."""
    base, _services = engine

    async def main() -> DialogClient:
        url = base.replace("http", "ws") + "/v1/dialog"
        async with DialogClient(
            url, SessionStart(sample_rate_in=16000, sample_rate_out=24000)
        ) as client:
            await client.stream(padded(asr_dev / "wav" / CLIP), realtime=True)
            await client.wait_for(ReplyDone, 120)
            return client

    with LoopWatch("test-engine") as watch:
        client = asyncio.run(main())
    assert client.of(ReplyAudio) and watch.callbacks > 100
    print(
        f"loop callbacks {watch.callbacks}, worst CPU {watch.worst_cpu * 1000:.1f} ms, worst wall {watch.worst_wall * 1000:.1f} ms"
    )
    assert watch.worst_cpu < 0.05, (watch.worst_cpu, watch.worst_what)


def test_prosody_is_measured_beside_the_final_decode(engine, asr_dev, monkeypatch) -> None:  # noqa: ANN001
    """At real-time pace the final is prefetched; the emotion bridge's audio features are
    measured beside that decode, and the estimate reuses them (no second measurement)."""
    base, services = engine
    bridge = services.bridge
    calls: list[str] = []
    measure, estimate = bridge.measure, bridge.estimate

    def counting_measure(audio, encoder=None):  # noqa: ANN001, ANN202
        calls.append("measure")
        return measure(audio, encoder)

    def recording_estimate(audio, text, **kw):  # noqa: ANN001, ANN202, ANN003
        calls.append("estimate with features" if kw.get("features") is not None else "estimate")
        return estimate(audio, text, **kw)

    monkeypatch.setattr(bridge, "measure", counting_measure)
    monkeypatch.setattr(bridge, "estimate", recording_estimate)

    async def main() -> DialogClient:
        url = base.replace("http", "ws") + "/v1/dialog"
        async with DialogClient(url, SessionStart(sample_rate_in=16000, reply=False)) as client:
            await client.stream(padded(asr_dev / "wav" / CLIP), realtime=True)
            await client.wait_for(EmotionEvent, 120)
            return client

    client = asyncio.run(main())
    assert client.of(EmotionEvent)
    assert calls[-1] == "estimate with features", calls
    assert "measure" in calls and calls.count("estimate with features") == 1
