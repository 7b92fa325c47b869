"""The empathy map: defaults, confidence floor, YAML overrides and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import ReplyStyle, UserEmotion
from tingshuo.dialog.empathy import EmpathyMap, EmpathyMapError


def _user(emotion: Emotion, confidence: float = 0.9) -> UserEmotion:
    return UserEmotion(emotion, confidence)


def test_defaults_calm_an_angry_user_and_mirror_a_happy_one() -> None:
    m = EmpathyMap()
    angry = m.rule_for(_user(Emotion.ANGRY))
    assert angry.style.emotion is not Emotion.ANGRY and angry.style.intensity < 1.0
    assert angry.prefix  # an apology is spoken first
    assert m.style_for(_user(Emotion.HAPPY)).emotion is Emotion.HAPPY
    assert m.style_for(None) == ReplyStyle(Emotion.NEUTRAL, 1.0)


def test_unsure_estimates_are_answered_neutrally() -> None:
    m = EmpathyMap(min_confidence=0.5)
    assert m.style_for(_user(Emotion.SAD, 0.3)).emotion is Emotion.NEUTRAL
    assert m.style_for(_user(Emotion.SAD, 0.7)).emotion is Emotion.SAD


def test_yaml_overrides_one_emotion(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("angry: {emotion: neutral, intensity: 0.5, prefix: 抱歉，}\n", encoding="utf-8")
    m = EmpathyMap.from_file(path)
    assert m.style_for(_user(Emotion.ANGRY)) == ReplyStyle(Emotion.NEUTRAL, 0.5)
    assert m.rule_for(_user(Emotion.ANGRY)).prefix == "抱歉，"
    assert m.style_for(_user(Emotion.HAPPY)).emotion is Emotion.HAPPY  # untouched default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("furious: {emotion: calm}\n", "furious"),
        ("angry: {emotion: sleepy}\n", "angry"),
        ("angry: {emotion: sad, intensity: 5}\n", "intensity"),
        ("- a\n- b\n", "expected a mapping"),
        ("angry: [\n", "invalid YAML"),
    ],
)
def test_bad_maps_are_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EmpathyMapError, match=message):
        EmpathyMap.from_file(path)
