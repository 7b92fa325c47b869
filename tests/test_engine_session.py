"""Session logic (turns, barge-in, slow readers, clean-up) driven directly, without sockets.

Uses the deterministic doubles of tests/engine_doubles.py; the same flows run on real models
in tests/e2e/.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
    silence,
    speech_like,
)
from tingshuo.core.emotions import Emotion
from tingshuo.engine.config import EngineConfig
from tingshuo.engine.events import (
    AudioIn,
    ErrorEvent,
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyText,
    SessionClosed,
    SessionStart,
    SessionStarted,
    TranscriptFinal,
    TranscriptPartial,
)
from tingshuo.engine.services import Services
from tingshuo.engine.session import Session

RATE = 16000


def make_services(texts: list[str], delay: float = 0.0, **server: object) -> Services:
    config = EngineConfig()
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, warmup=False, **server)
    )
    bridge = KeywordEmotionBridge()
    return Services(
        config,
        ScriptedRecognizer(texts),
        ToneSynthesizer(delay),
        bridge,
        EchoKnowledgePolicy(bridge),
    )


async def feed(session: Session, samples, frame_s: float = 0.02, realtime: bool = False) -> None:  # noqa: ANN001
    step = int(frame_s * RATE)
    for i in range(0, len(samples), step):
        await session.handle(AudioIn(samples[i : i + step], RATE))
        await asyncio.sleep(frame_s if realtime else 0)


class Client:
    """Reads a session's queue as the socket writer would, recording what 'went out'."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events: list = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while (ev := await self.session.out.get()) is not None:
            self.events.append(ev)
            if isinstance(ev, ReplyAudio):
                self.session.on_sent(ev)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type, timeout: float = 10.0) -> object:
        async def poll() -> object:
            while not self.of(kind):
                await asyncio.sleep(0.01)
            return self.of(kind)[0]

        return await asyncio.wait_for(poll(), timeout)


async def open_session(
    services: Services, settings: SessionStart | None = None
) -> tuple[Session, Client]:
    """An opened session and a client recording what it sends."""
    session = Session(services, settings or SessionStart())
    client = Client(session)
    await session.open()
    return session, client


def test_one_turn_produces_transcript_emotion_reply_and_sequenced_audio() -> None:
    async def main() -> None:
        services = make_services(["你好"])
        session, client = await open_session(services, SessionStart(sample_rate_out=16000))
        await feed(session, silence(0.3))
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.6))
        await client.wait_for(ReplyDone)
        await session.close("test over")
        await client.task
        types = [
            type(e).__name__
            for e in client.events
            if not isinstance(e, ReplyAudio | TranscriptPartial)
        ]
        assert types == [
            "SessionStarted",
            "SpeechStartedEvent",
            "SpeechStoppedEvent",
            "TranscriptFinal",
            "EmotionEvent",
            "ReplyText",
            "ReplyDone",
            "SessionClosed",
        ]
        assert client.of(TranscriptFinal)[0].text == "你好"
        reply = client.of(ReplyText)[0]
        assert reply.text == "您好，很高兴为您服务。"
        frames = client.of(ReplyAudio)
        assert [f.seq for f in frames] == list(range(len(frames)))
        assert all(f.sample_rate == 16000 for f in frames)
        total = sum(f.duration_ms for f in frames)
        assert total == pytest.approx(0.12 * len(reply.text) * 1000, abs=2)
        assert client.of(ReplyDone)[0].frames == len(frames)
        assert session.history[-1].reply == reply.text
        assert client.of(SessionStarted)[0].voice == "tone"
        await services.close()

    asyncio.run(main())


def test_barge_in_cancels_reply_reports_sent_and_played_and_keeps_heard_part() -> None:
    async def main() -> None:
        # a two-sentence reply, each sentence taking 0.8 s to "synthesize"
        services = make_services(["我想问一下。再说一句话吧", "等一下"], delay=0.8)
        session, client = await open_session(services, SessionStart(sample_rate_out=24000))
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.5))
        await client.wait_for(ReplyAudio)
        await asyncio.sleep(0.25)  # the user hears a little, then talks over the reply
        await feed(session, speech_like(0.3), realtime=True)
        interrupted = await client.wait_for(ReplyInterrupted)
        reply = client.of(ReplyText)[0]
        assert interrupted.reply_id == reply.reply_id
        sent = sum(f.duration_ms for f in client.of(ReplyAudio))
        assert interrupted.sent_ms == pytest.approx(sent, abs=1)
        assert 0 < interrupted.played_ms <= interrupted.sent_ms
        # the second sentence was never synthesized: cancelled promptly
        assert interrupted.sent_ms < 0.12 * 1000 * len("您说的是：我想问一下。") + 1
        assert reply.text.startswith(interrupted.heard_text) and interrupted.heard_text
        assert len(interrupted.heard_text) < len(reply.text)
        idx = client.events.index(interrupted)
        assert not [e for e in client.events[idx:] if isinstance(e, ReplyAudio | ReplyDone)]
        assert session.history[0].reply == interrupted.heard_text
        await feed(session, silence(0.5))
        await asyncio.sleep(0.2)
        await session.close("test over")
        await client.task
        assert [e.text for e in client.of(TranscriptFinal)] == [
            "我想问一下。再说一句话吧",
            "等一下",
        ]
        await services.close()

    asyncio.run(main())


def test_playback_report_caps_played_ms() -> None:
    async def main() -> None:
        services = make_services(["我想问一下。再说一句话吧", "等一下"], delay=0.3)
        session, client = await open_session(services)
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.5))
        first = await client.wait_for(ReplyAudio)
        from tingshuo.engine.events import ReplyPlayback

        await session.handle(ReplyPlayback(first.reply_id, 50.0))
        await asyncio.sleep(0.3)
        await feed(session, speech_like(0.3))
        interrupted = await client.wait_for(ReplyInterrupted)
        assert interrupted.played_ms == 50
        await session.close("done")
        await client.task
        await services.close()

    asyncio.run(main())


def test_slow_reader_ends_the_session_with_an_error_not_silent_loss() -> None:
    async def main() -> None:
        services = make_services(
            ["我想问一下。再说一句话吧"], outbound_queue=4, slow_reader_timeout_s=0.3
        )
        session = Session(services, SessionStart())
        await session.open()  # nobody reads the queue
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.5))
        for _ in range(100):
            if session.closed:
                break
            await asyncio.sleep(0.05)
        assert session.closed and session.close_reason.startswith("overloaded")
        events = []
        while (ev := await session.out.get()) is not None:
            events.append(ev)
        errors = [e for e in events if isinstance(e, ErrorEvent)]
        assert errors and errors[0].code == "overloaded" and errors[0].fatal
        assert isinstance(events[-1], SessionClosed)
        await services.close()

    asyncio.run(main())


def test_many_sessions_release_their_tasks_and_streams() -> None:
    async def main() -> None:
        services = make_services(["你好"] * 1)
        baseline = len(asyncio.all_tasks())
        for _ in range(40):
            session, client = await open_session(services)
            await feed(session, speech_like(0.4))
            await session.close("bye")
            await client.task
            # no decode task at all when both workers were still busy with earlier sessions'
            # decodes (partials are shed then; the queue counts a job until its thread is done)
            task = session._rec_task
            assert session._stream is None and (task is None or task.done())
        await asyncio.sleep(0.05)
        assert len(asyncio.all_tasks()) <= baseline + 1  # the batcher may have started
        assert services.metrics.active_sessions.labels("dialog")._value.get() == 0
        await services.close()

    asyncio.run(main())


def test_reply_text_says_when_the_policy_hands_off_to_a_human() -> None:
    from tingshuo.dialog.policy import EchoPolicy, Escalation

    async def main() -> None:
        services = make_services(["太差了，我要投诉"])
        services.policy = EchoPolicy(escalation=Escalation(after_turns=1))
        session, client = await open_session(services, SessionStart(sample_rate_out=16000))
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.6))
        reply = await client.wait_for(ReplyText)
        assert isinstance(reply, ReplyText)
        assert reply.handoff is True and reply.intent == "handoff"
        assert "人工" in reply.text
        await session.close("test over")
        await client.task
        await services.close()

    asyncio.run(main())


class RecordingSynthesizer(ToneSynthesizer):
    """Records the text of every synthesis call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def synthesize(self, text: str, style=None, voice=None):  # noqa: ANN001, ANN201
        self.calls.append(text)
        return super().synthesize(text, style, voice)


def test_reply_is_split_once_with_a_short_first_segment() -> None:
    """The conversation splits the reply; each segment is one synthesis call (nothing split
    again), the first a short clause; the audio adds up to the whole reply."""

    async def main() -> None:
        long_request = (
            "我想问一下我上个星期买的那台洗衣机为什么到现在还没有发货呢而且客服电话也一直打不通"
            "我已经等了整整一个星期了希望你们能尽快帮我处理一下这个问题"
        )
        services = make_services([long_request])
        synth = RecordingSynthesizer()
        services.synthesizer = synth
        session, client = await open_session(services, SessionStart(sample_rate_out=16000))
        await feed(session, speech_like(1.0))
        await feed(session, silence(0.6))
        await client.wait_for(ReplyDone)
        await session.close("test over")
        await client.task
        reply = client.of(ReplyText)[0].text
        assert "".join(synth.calls) == reply
        first_chars = services.config.dialog.first_segment_chars
        assert len(synth.calls) >= 3 and len(synth.calls[0]) <= first_chars
        assert all(len(c) <= services.config.tts.max_segment_chars for c in synth.calls)
        total = sum(f.duration_ms for f in client.of(ReplyAudio))
        assert total == pytest.approx(0.12 * len(reply) * 1000, abs=5)  # seamless resampling
        await services.close()

    asyncio.run(main())


def test_prewarm_renders_reply_openings_into_the_cache_path() -> None:
    """Every policy opening's first segment is synthesized once, in its style; openings with
    unfilled slots are left to the live path."""
    from tingshuo.dialog.base import ReplyStyle
    from tingshuo.tts.base import Style

    class OpeningPolicy(EchoKnowledgePolicy):
        def openings(self) -> list[tuple[str, ReplyStyle]]:
            sad = ReplyStyle(Emotion.SAD, 0.4)
            return [
                ("非常抱歉给您带来了不便，", sad),
                ("订单{order_id}的进度可以在“我的订单”里查看。", ReplyStyle()),
                ("您好，我是智能客服小听，请问有什么可以帮您？", ReplyStyle()),
            ]

    async def main() -> None:
        services = make_services(["你好"])
        services.policy = OpeningPolicy(services.bridge)
        synth = RecordingSynthesizer()
        services.synthesizer = synth
        assert await services.prewarm_replies() == 2
        assert synth.calls == ["非常抱歉给您带来了不便，", "您好，我是智能客服小听，"]
        assert services.reply_openings()[0] == (
            "非常抱歉给您带来了不便，",
            Style(emotion=Emotion.SAD, intensity=0.4),
        )
        await services.close()

    asyncio.run(main())
