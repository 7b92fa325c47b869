"""Pure helpers of the synthesis routes (the routes themselves: test_engine_app, e2e)."""

from __future__ import annotations

from tingshuo.core.emotions import Emotion
from tingshuo.engine.http_tts import emotion_from_instructions


def test_instructions_map_to_emotions() -> None:
    assert emotion_from_instructions("Speak happily and warmly.") is Emotion.HAPPY
    assert emotion_from_instructions("用生气的语气说") is Emotion.ANGRY
    assert emotion_from_instructions("a sad, slow voice") is Emotion.SAD
    assert (
        emotion_from_instructions("calm please, not angry") is Emotion.NEUTRAL
    )  # first mention wins
    assert emotion_from_instructions("") is Emotion.NEUTRAL
