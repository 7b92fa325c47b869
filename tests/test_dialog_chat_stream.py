"""ChatPolicy.respond_stream against a real local SSE server: escalation, the empathy prefix
decided at the first segment cut, the knowledge-base fallback and partial replies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.chat_sse_server import FakeChatServer
from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import Reply, ReplyStream, Turn, UserEmotion
from tingshuo.dialog.chat_backend import ChatBackend
from tingshuo.dialog.empathy import EmpathyMap
from tingshuo.dialog.policy import ChatPolicy, EchoPolicy, Escalation

NEUTRAL = UserEmotion(Emotion.NEUTRAL, 0.9)
ANGRY = UserEmotion(Emotion.ANGRY, 0.9)
PREFIX = EmpathyMap().rule_for(ANGRY).prefix


@pytest.fixture()
def server() -> Iterator[FakeChatServer]:
    sse = FakeChatServer(["好的，", "我来", "帮您", "查一下。"], delay_s=0.005, hold_after=2)
    yield sse
    sse.close()


def policy(sse: FakeChatServer, model: str) -> ChatPolicy:
    return ChatPolicy(
        ChatBackend(sse.url, model, timeout_s=5),
        EchoPolicy(),
        "你是客服",
        EmpathyMap(),
        Escalation(after_turns=2, min_confidence=0.4),
        stream=True,
    )


def run(
    p: ChatPolicy, history: list[Turn], emotion: UserEmotion
) -> tuple[Reply | ReplyStream, list[str]]:
    async def main() -> tuple[Reply | ReplyStream, list[str]]:
        reply = await p.respond_stream(history, "查订单", emotion, first_chars=14, max_chars=60)
        deltas = [d async for d in reply.deltas] if isinstance(reply, ReplyStream) else []
        await p.aclose()
        return reply, deltas

    return asyncio.run(main())


def test_streams_the_answer_in_the_empathy_style(server: FakeChatServer) -> None:
    reply, deltas = run(policy(server, "stream"), [], NEUTRAL)
    assert isinstance(reply, ReplyStream) and reply.intent == "chat" and not reply.handoff
    assert deltas == ["好的，", "我来", "帮您", "查一下。"]  # nothing held back: no prefix due


def test_prefix_is_decided_on_the_text_up_to_the_first_cut(server: FakeChatServer) -> None:
    reply, deltas = run(policy(server, "stream"), [], ANGRY)
    assert isinstance(reply, ReplyStream)
    # held back until the first clause was known, then framed with the apology
    assert (
        deltas[0] == PREFIX + "好的，我来" and "".join(deltas) == PREFIX + "好的，我来帮您查一下。"
    )
    server.tokens = ["抱歉，", "让您", "久等了。"]  # the answer apologises itself: no prefix
    _, deltas = run(policy(server, "stream"), [], ANGRY)
    assert "".join(deltas) == "抱歉，让您久等了。"


def test_escalation_is_a_whole_reply_without_a_request(server: FakeChatServer) -> None:
    reply, _ = run(policy(server, "stream"), [Turn("快递呢", ANGRY, "在查")], ANGRY)
    assert isinstance(reply, Reply) and reply.handoff and reply.intent == "handoff"
    assert not server.requests


@pytest.mark.parametrize("model", ["error", "garbage"])
def test_failure_before_text_falls_back(server: FakeChatServer, model: str) -> None:
    reply, deltas = run(policy(server, model), [], ANGRY)
    assert isinstance(reply, ReplyStream) and reply.intent == "echo"
    assert deltas == [PREFIX + "您说的是：查订单"]


def test_failure_mid_stream_keeps_the_text_so_far(server: FakeChatServer) -> None:
    reply, deltas = run(policy(server, "cut"), [], ANGRY)
    assert isinstance(reply, ReplyStream) and reply.intent == "chat"
    assert deltas == [PREFIX + "好的，我来"]  # the text before the break, framed at the first cut
