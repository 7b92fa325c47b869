"""A streamed ``chat`` reply through a Session: the real ChatPolicy and ChatBackend against a
real local server streaming server-sent events (tests/chat_sse_server.py), the deterministic
recognizer/synthesizer doubles of tests/engine_doubles.py (the subject here is the text
stream and the synthesis scheduling, not the models)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator

import pytest

from tests.chat_sse_server import FakeChatServer
from tests.engine_doubles import (
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
    silence,
    speech_like,
)
from tests.test_engine_session import Client, feed, open_session
from tingshuo.dialog.chat_backend import ChatBackend
from tingshuo.dialog.empathy import EmpathyMap
from tingshuo.dialog.policy import ChatPolicy, EchoPolicy
from tingshuo.dialog.reply_state import split_reply
from tingshuo.engine.config import EngineConfig
from tingshuo.engine.events import (
    ErrorEvent,
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyText,
    ReplyTextDelta,
    SessionStart,
)
from tingshuo.engine.services import Services
from tingshuo.engine.session import Session
from tingshuo.tts.base import Style

TOKENS = ["好的，", "我来", "帮您", "查一下", "订单", "。", "请", "稍等", "！"]


class RecordingSynthesizer(ToneSynthesizer):
    """The tone double, recording each segment it is asked to render and when."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay)
        self.calls: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None):  # noqa: ANN201
        with self._lock:
            self.calls.append((time.perf_counter(), text))
        return super().synthesize(text, style, voice)


@pytest.fixture()
def server() -> Iterator[FakeChatServer]:
    sse = FakeChatServer(TOKENS, delay_s=0.01, hold_after=3)
    yield sse
    sse.close()


def make_services(
    sse: FakeChatServer, model: str, texts: list[str], delay: float = 0.0
) -> tuple[Services, RecordingSynthesizer]:
    config = EngineConfig()
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, warmup=False))
    policy = ChatPolicy(
        ChatBackend(sse.url, model, timeout_s=5),
        EchoPolicy(),  # the knowledge base's stand-in as the fallback (no encoder model)
        "你是客服",
        EmpathyMap(),
        stream=True,
    )
    synth = RecordingSynthesizer(delay)
    services = Services(config, ScriptedRecognizer(texts), synth, KeywordEmotionBridge(), policy)
    return services, synth


async def speak_once(session: Session) -> None:
    await feed(session, silence(0.3))
    await feed(session, speech_like(1.0))
    await feed(session, silence(0.6))


async def start_turn(services: Services) -> tuple[Session, Client]:
    """A session whose user has just said one utterance (its reply is on its way)."""
    session, client = await open_session(services, SessionStart(sample_rate_out=16000))
    await speak_once(session)
    return session, client


async def finish_turn(session: Session, client: Client) -> None:
    """Wait for the reply to be done, then close the session and its client."""
    await client.wait_for(ReplyDone)
    await session.close("test over")
    await client.task


def reply_events(client: Client) -> list[str]:
    return [
        type(e).__name__
        for e in client.events
        if isinstance(e, ReplyTextDelta | ReplyAudio | ReplyText | ReplyDone)
    ]


def squeeze(names: list[str]) -> list[str]:
    """Runs of one event type collapsed to one name."""
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


def assert_no_tasks_left() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not others, others


def test_first_segment_is_synthesized_and_sent_before_the_stream_ends(
    server: FakeChatServer,
) -> None:
    async def main() -> None:
        services, synth = make_services(server, "hold", ["帮我查一下订单"])
        session, client = await start_turn(services)
        # the server holds everything after the third token until it is released here
        await client.wait_for(ReplyAudio)
        assert not server.finished.is_set()
        assert synth.calls[0][1] == "好的，"
        reply = session.conversation.reply
        assert reply is not None
        for _ in range(500):  # the held-back server sent three tokens: the text grows to them
            if reply.text == "好的，我来帮您":
                break
            await asyncio.sleep(0.01)
        assert reply.text == "好的，我来帮您"
        assert not client.of(ReplyText)  # the whole text comes after the stream
        server.release.set()
        await finish_turn(session, client)
        text = "".join(TOKENS)
        deltas = client.of(ReplyTextDelta)
        assert "".join(d.delta for d in deltas) == text
        assert {d.reply_id for d in deltas} == {1}
        final = client.of(ReplyText)
        assert len(final) == 1 and final[0].text == text and final[0].intent == "chat"
        names = reply_events(client)
        assert names[0] == "ReplyTextDelta" and names[-1] == "ReplyDone"
        # the whole text once the stream has ended: after every delta, before reply.done
        last_delta = max(i for i, n in enumerate(names) if n == "ReplyTextDelta")
        assert names.index("ReplyText") > last_delta and names.count("ReplyText") == 1
        assert [s for _, s in synth.calls] == ["好的，", "我来帮您查一下订单。", "请稍等！"]
        assert session.history[-1].reply == text
        frames = client.of(ReplyAudio)
        assert [f.seq for f in frames] == list(range(len(frames)))
        total = sum(f.duration_ms for f in frames)
        assert total == pytest.approx(0.12 * len(text) * 1000, abs=2)  # resampler tail flushed
        assert not client.of(ErrorEvent)
        await services.close()
        assert_no_tasks_left()

    asyncio.run(main())


def test_stream_failing_before_any_text_falls_back(server: FakeChatServer) -> None:
    async def main() -> None:
        services, _ = make_services(server, "error", ["你好呀"])
        session, client = await start_turn(services)
        await finish_turn(session, client)
        final = client.of(ReplyText)[0]
        assert final.text == "您说的是：你好呀" and final.intent == "echo"
        assert "".join(d.delta for d in client.of(ReplyTextDelta)) == final.text
        assert not client.of(ErrorEvent)
        assert session.history[-1].reply == final.text
        await services.close()

    asyncio.run(main())


def test_stream_breaking_off_ends_the_reply_with_the_text_so_far(
    server: FakeChatServer,
) -> None:
    async def main() -> None:
        services, synth = make_services(server, "cut", ["帮我查一下订单"])
        session, client = await start_turn(services)
        await finish_turn(session, client)
        partial = "".join(TOKENS[:3])
        assert client.of(ReplyText)[0].text == partial
        assert "".join(s for _, s in synth.calls) == partial
        assert not client.of(ErrorEvent)  # no error of type internal (nor any other)
        assert session.history[-1].reply == partial
        await services.close()

    asyncio.run(main())


def test_angry_user_gets_the_prefix_decided_at_the_first_segment(
    server: FakeChatServer,
) -> None:
    async def main() -> None:
        services, synth = make_services(server, "stream", ["气死了，快递怎么回事"])
        session, client = await start_turn(services)
        await finish_turn(session, client)
        prefix = EmpathyMap().rule_for(_angry()).prefix
        assert prefix
        assert client.of(ReplyText)[0].text == prefix + "".join(TOKENS)
        assert synth.calls[0][1] == prefix  # the cached opening is its own first segment
        await services.close()

    asyncio.run(main())


def _angry():  # noqa: ANN202
    return KeywordEmotionBridge().estimate(None, "气死了")


@pytest.mark.parametrize("how", ["barge-in", "close"])
def test_barge_in_or_close_while_streaming_ends_the_http_stream(
    server: FakeChatServer, how: str
) -> None:
    async def main() -> None:
        services, _ = make_services(server, "hold", ["帮我查一下订单", "等一下"])
        session, client = await start_turn(services)
        await client.wait_for(ReplyAudio)
        assert not server.disconnected.is_set()
        if how == "barge-in":
            await feed(session, speech_like(0.3))
            await client.wait_for(ReplyInterrupted)
        else:
            await session.close("bye")
        # the server notices the client went away while it held the rest of the reply
        assert await asyncio.to_thread(server.disconnected.wait, 5)
        assert not server.finished.is_set()
        if how == "barge-in":
            assert session.history[-1].reply == client.of(ReplyInterrupted)[0].heard_text
            assert not client.of(ReplyDone)
            await session.close("test over")
        await client.task
        assert not client.of(ErrorEvent)
        await services.close()
        assert_no_tasks_left()

    asyncio.run(main())


def test_a_list_reply_still_goes_text_first(server: FakeChatServer) -> None:
    async def main() -> None:
        services, synth = make_services(server, "stream", ["你好"])
        services.policy.streaming = False  # type: ignore[attr-defined]  # dialog.chat.stream=false
        session, client = await start_turn(services)
        await finish_turn(session, client)
        assert not client.of(ReplyTextDelta)
        order = squeeze(reply_events(client))
        assert order == ["ReplyText", "ReplyAudio", "ReplyDone"]
        assert client.of(ReplyText)[0].text == "".join(TOKENS)
        assert not server.requests[-1]["body"].get("stream")
        assert [s for _, s in synth.calls] == split_reply("".join(TOKENS), 60, 14)
        await services.close()

    asyncio.run(main())
