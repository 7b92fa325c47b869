"""A minimal emotion rule and echo/knowledge reply, used only when ``dialog.factory`` is absent.

The real emotion bridge and reply policy live in ``dialog/`` (issue #5). This keeps the
engine's loop running end to end without them: a keyword text-emotion rule, an empathy map,
and a reply that answers a few known questions or echoes what it heard.
"""

from __future__ import annotations

import logging
from typing import Any

from dialog.base import EmotionBridge, Reply, ReplyPolicy, ReplyStyle, Turn, UserEmotion
from engine.audio import Audio
from engine.emotions import Emotion

log = logging.getLogger(__name__)

_KEYWORDS: dict[Emotion, tuple[str, ...]] = {
    Emotion.ANGRY: ("生气", "气死", "投诉", "太差", "垃圾", "混蛋", "滚", "怎么回事", "搞什么"),
    Emotion.SAD: ("难过", "伤心", "哭", "失望", "遗憾", "不开心", "累"),
    Emotion.HAPPY: ("谢谢", "太好了", "开心", "高兴", "喜欢", "棒", "哈哈"),
    Emotion.FEAR: ("害怕", "担心", "恐怖", "吓"),
    Emotion.HATE: ("恶心", "讨厌", "烦死"),
    Emotion.SURPRISE: ("真的吗", "竟然", "居然", "没想到", "天哪"),
}

EMPATHY: dict[Emotion, ReplyStyle] = {
    Emotion.ANGRY: ReplyStyle(Emotion.NEUTRAL, 0.6),
    Emotion.SAD: ReplyStyle(Emotion.SAD, 0.5),
    Emotion.HAPPY: ReplyStyle(Emotion.HAPPY, 1.0),
    Emotion.FEAR: ReplyStyle(Emotion.NEUTRAL, 0.5),
    Emotion.HATE: ReplyStyle(Emotion.NEUTRAL, 0.6),
    Emotion.SURPRISE: ReplyStyle(Emotion.HAPPY, 0.6),
    Emotion.NEUTRAL: ReplyStyle(Emotion.NEUTRAL, 1.0),
}

_ANSWERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("你好", "您好", "喂"), "您好，很高兴为您服务。"),
    (("换一首歌", "换首歌", "下一首"), "好的，马上为您换一首歌。"),
    (("谢谢",), "不客气，祝您愉快。"),
    (("再见", "拜拜"), "再见，欢迎下次再来。"),
)


class KeywordEmotionBridge:
    """Text-only emotion by keyword, with a fixed empathy map."""

    def estimate(self, audio: Audio | None, text: str | None) -> UserEmotion:
        """The first matching emotion (confidence 0.6), else neutral (0.5)."""
        if audio is None and text is None:
            raise ValueError("estimate needs audio or text")
        for emotion, words in _KEYWORDS.items():
            if text and any(w in text for w in words):
                return UserEmotion(emotion, 0.6, {emotion: 0.6, Emotion.NEUTRAL: 0.4}, "text")
        return UserEmotion(Emotion.NEUTRAL, 0.5, {Emotion.NEUTRAL: 0.5}, "text")

    def reply_style(self, user_emotion: UserEmotion) -> ReplyStyle:
        """Calm replies to anger and disgust, gentle ones to sadness, shared joy."""
        return EMPATHY[user_emotion.emotion]


class EchoKnowledgePolicy:
    """Answers a few known requests; otherwise repeats what it heard."""

    def __init__(self, bridge: EmotionBridge) -> None:
        self.bridge = bridge

    def respond(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> Reply:
        """A canned answer when a keyword matches, else an echo."""
        style = self.bridge.reply_style(emotion)
        text = utterance.strip().rstrip("。！？!?.，,")
        for words, answer in _ANSWERS:
            if any(w in text for w in words):
                return Reply(answer, style, intent="known")
        if not text:
            return Reply("抱歉，我没有听清楚，请再说一遍。", style, intent="unclear")
        if emotion.emotion in (Emotion.ANGRY, Emotion.HATE):
            return Reply(f"非常抱歉给您带来不便。您说：{text}。", style, intent="apology")
        return Reply(f"您说的是：{text}。", style, intent="echo")


def build_dialog(config: Any) -> tuple[EmotionBridge, ReplyPolicy]:
    """The configured bridge and policy from ``dialog.factory``, or this fallback.

    The keyword bridge also stands in, with a warning, when ``dialog.factory`` is present but
    its bridge checkpoint is not (so the engine still serves; the reply policy is dialog's).
    """
    try:
        from dialog.factory import build_bridge, build_policy
    except ImportError:
        log.warning("dialog.factory not available: using the keyword emotion rule and echo reply")
        keywords = KeywordEmotionBridge()
        return keywords, EchoKnowledgePolicy(keywords)
    policy = build_policy(config)
    bridge: EmotionBridge
    try:
        bridge = build_bridge(config)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # CheckpointError and kin
        log.warning("emotion bridge unavailable (%s): using the keyword emotion rule", exc)
        bridge = KeywordEmotionBridge()
    return bridge, policy
