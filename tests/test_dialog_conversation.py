"""dialog.conversation: turns, reply style and barge-in bookkeeping, without sockets or clocks."""

from __future__ import annotations

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import Reply, ReplyStyle, UserEmotion
from tingshuo.dialog.conversation import Conversation

ANGRY = UserEmotion(Emotion.ANGRY, 0.9, {Emotion.ANGRY: 0.9, Emotion.NEUTRAL: 0.1}, "fused")
CALM = ReplyStyle(Emotion.NEUTRAL, 0.6)
REPLY = Reply("非常抱歉给您带来不便。我们马上为您处理。", CALM)


def test_reply_style_follows_the_session_policy() -> None:
    assert Conversation("empathetic").reply_style(REPLY, ANGRY) == CALM
    assert Conversation("mirror").reply_style(REPLY, ANGRY).emotion is Emotion.ANGRY
    assert Conversation("neutral").reply_style(REPLY, ANGRY) == ReplyStyle(Emotion.NEUTRAL, 1.0)
    with pytest.raises(ValueError, match="empathetic, mirror, neutral"):
        Conversation("cheerful")


def test_a_finished_reply_is_remembered_whole_and_memory_is_bounded() -> None:
    conv = Conversation(memory_turns=2)
    for i in range(3):
        state = conv.start_reply(f"问题{i}", ANGRY, REPLY, endpoint_at=0.0)
        assert state.reply_id == i + 1 and state.style == CALM
        conv.finish_reply(state)
    assert [t.user_text for t in conv.history] == ["问题1", "问题2"]
    assert conv.history[-1].reply == REPLY.text
    assert [e for e, _ in conv.memory.trajectory()] == [Emotion.ANGRY] * 3


def test_barge_in_keeps_only_what_was_heard() -> None:
    conv = Conversation()
    state = conv.start_reply("我的快递呢", ANGRY, REPLY, endpoint_at=0.0)
    first, second = conv.segments(state)
    # the synthesizer produced the first sentence (1000 ms) and half of the second
    state.segments.append((first, 0.0, 1000.0))
    state.current, state.current_start_ms, state.synth_ms = second, 1000.0, 1500.0
    conv.sent(state.reply_id, 1500.0)
    conv.playback(state.reply_id, 1250.0)  # the client played half of the second (250/500 ms)
    cut = conv.barge_in()
    assert cut is not None and cut.played_ms == 1250.0 and cut.sent_ms == 1500.0
    assert cut.heard_text == first + second[: len(second) // 2]
    assert conv.history[-1].reply == cut.heard_text and conv.reply is None
    assert conv.barge_in() is None  # nothing playing any more


def test_barge_in_after_the_turn_was_recorded_corrects_it() -> None:
    conv = Conversation()
    state = conv.start_reply("查订单", ANGRY, REPLY, endpoint_at=0.0)
    state.segments.append((REPLY.text, 0.0, 2000.0))
    state.synth_ms = 2000.0
    conv.finish_reply(state)  # all audio queued, the client is still playing it
    conv.sent(state.reply_id, 2000.0)
    conv.playback(state.reply_id, 0.0)
    cut = conv.barge_in()
    assert cut is not None and cut.heard_text == ""
    assert len(conv.history) == 1 and conv.history[0].reply == ""


def test_a_reply_played_to_the_end_is_not_interrupted() -> None:
    conv = Conversation()
    state = conv.start_reply("你好", ANGRY, REPLY, endpoint_at=0.0)
    state.segments.append((REPLY.text, 0.0, 800.0))
    state.synth_ms = 800.0
    conv.finish_reply(state)
    conv.sent(state.reply_id, 800.0)
    conv.playback(state.reply_id, 800.0)
    assert conv.barge_in() is None
    assert conv.history[-1].reply == REPLY.text


def test_reports_for_another_reply_are_ignored_and_reset_forgets() -> None:
    conv = Conversation()
    state = conv.start_reply("你好", ANGRY, REPLY, endpoint_at=0.0)
    conv.playback(state.reply_id + 1, 500.0)
    conv.sent(state.reply_id + 1, 500.0)
    assert state.client_played_ms is None and state.sent_ms == 0.0
    conv.listened("只听不答", None)
    conv.reset()
    assert conv.history == [] and conv.reply is None
