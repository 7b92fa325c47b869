"""The canonical emotion vocabulary (Sambert zhitian_emo's set) shared by every stage."""

from __future__ import annotations

from enum import StrEnum


class Emotion(StrEnum):
    """Canonical emotions. ``hate`` is disgust, named as Sambert names it."""

    NEUTRAL = "neutral"
    HAPPY = "happy"
    ANGRY = "angry"
    SAD = "sad"
    FEAR = "fear"
    HATE = "hate"
    SURPRISE = "surprise"


EMOTIONS: tuple[Emotion, ...] = tuple(Emotion)
MIN_INTENSITY = 0.0
MAX_INTENSITY = 2.0

_ALIASES = {
    "disgust": Emotion.HATE,
    "calm": Emotion.NEUTRAL,
    "fearful": Emotion.FEAR,
    "surprised": Emotion.SURPRISE,
    "joy": Emotion.HAPPY,
    "anger": Emotion.ANGRY,
    "sadness": Emotion.SAD,
}


class UnknownEmotionError(ValueError):
    """Raised for an emotion name outside the canonical set (after aliases)."""


def parse_emotion(name: str | Emotion | None) -> Emotion:
    """Parse an emotion name (case-insensitive; a few aliases such as ``disgust``).

    ``None`` or an empty string means neutral. Anything else unknown raises
    :class:`UnknownEmotionError` listing the valid names.
    """
    if name is None or name == "":
        return Emotion.NEUTRAL
    if isinstance(name, Emotion):
        return name
    key = name.strip().lower()
    try:
        return Emotion(key)
    except ValueError:
        if key in _ALIASES:
            return _ALIASES[key]
        valid = ", ".join(e.value for e in EMOTIONS)
        raise UnknownEmotionError(f"unknown emotion {name!r}; expected one of: {valid}") from None


def check_intensity(value: float) -> float:
    """Validate an emotion intensity (0 = none, 1 = normal, 2 = strong)."""
    v = float(value)
    if not MIN_INTENSITY <= v <= MAX_INTENSITY:
        raise ValueError(f"intensity must be in [{MIN_INTENSITY}, {MAX_INTENSITY}], got {value}")
    return v
