"""The engine's fallback emotion rule and echo/knowledge reply."""

from __future__ import annotations

from engine.config import EngineConfig
from engine.emotions import Emotion
from engine.fallback_dialog import EchoKnowledgePolicy, KeywordEmotionBridge, build_dialog


def test_keyword_emotions_and_empathy() -> None:
    bridge = KeywordEmotionBridge()
    assert bridge.estimate(None, "你们怎么回事，我要投诉").emotion is Emotion.ANGRY
    assert bridge.estimate(None, "太好了谢谢").emotion is Emotion.HAPPY
    assert bridge.estimate(None, "换一首歌").emotion is Emotion.NEUTRAL
    angry = bridge.estimate(None, "气死我了")
    assert bridge.reply_style(angry).emotion is Emotion.NEUTRAL  # calm answer to anger


def test_replies_answer_known_requests_or_echo() -> None:
    bridge = KeywordEmotionBridge()
    policy = EchoKnowledgePolicy(bridge)
    neutral = bridge.estimate(None, "换一首歌")
    assert policy.respond([], "换一首歌。", neutral).text == "好的，马上为您换一首歌。"
    assert policy.respond([], "明天会下雨吗", neutral).text == "您说的是：明天会下雨吗。"
    angry = bridge.estimate(None, "太差了")
    assert policy.respond([], "太差了", angry).text.startswith("非常抱歉")
    assert "没有听清" in policy.respond([], "", neutral).text


def test_build_dialog_returns_a_working_pair() -> None:
    bridge, policy = build_dialog(EngineConfig())
    emotion = bridge.estimate(None, "你好")
    assert policy.respond([], "你好", emotion).text
