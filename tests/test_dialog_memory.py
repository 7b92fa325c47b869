"""Conversation memory: bounded turns, the whole emotion trajectory, the angry streak."""

from __future__ import annotations

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import Turn, UserEmotion
from tingshuo.dialog.memory import ConversationMemory, angry_streak


def _turn(emotion: Emotion, confidence: float = 0.9, text: str = "x") -> Turn:
    return Turn(text, UserEmotion(emotion, confidence))


def test_keeps_last_n_turns_but_whole_trajectory() -> None:
    mem = ConversationMemory(max_turns=2)
    for i, e in enumerate([Emotion.NEUTRAL, Emotion.SAD, Emotion.ANGRY]):
        mem.add(_turn(e, text=str(i)))
    assert [t.user_text for t in mem.turns] == ["1", "2"]
    assert [e for e, _ in mem.trajectory()] == [Emotion.NEUTRAL, Emotion.SAD, Emotion.ANGRY]
    mem.clear()
    assert mem.turns == [] and mem.trajectory() == []


def test_angry_streak_counts_only_the_latest_run() -> None:
    mem = ConversationMemory()
    for e in [Emotion.ANGRY, Emotion.NEUTRAL, Emotion.ANGRY, Emotion.HATE]:
        mem.add(_turn(e))
    assert mem.angry_streak() == 2
    mem.add(_turn(Emotion.ANGRY, confidence=0.2))
    assert mem.angry_streak(min_confidence=0.5) == 0
    assert angry_streak([None, UserEmotion(Emotion.ANGRY, 1.0)]) == 1


def test_rejects_empty_memory() -> None:
    with pytest.raises(ValueError):
        ConversationMemory(0)
