"""The empathy map: which emotion (and how strongly) to answer a user's emotion with.

Configurable through a YAML file (``dialog.empathy_map``)::

    angry: {emotion: sad, intensity: 0.4, prefix: "非常抱歉给您添麻烦了，"}
    happy: {emotion: happy, intensity: 0.8}

Emotions left out keep the built-in defaults below. ``prefix`` is an optional
acknowledgement spoken before the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tingshuo.core.emotions import Emotion, UnknownEmotionError, check_intensity, parse_emotion
from tingshuo.dialog.base import ReplyStyle, UserEmotion


class EmpathyMapError(ValueError):
    """An empathy-map file that cannot be used; the message says which entry."""


@dataclass(frozen=True)
class EmpathyRule:
    """How to answer one user emotion."""

    style: ReplyStyle
    prefix: str = ""


# Angry or disgusted users get a calm, soft, apologetic voice (low-intensity "sad" renders
# slower and lower); sad or frightened users a gentle, reassuring one; positive users are
# mirrored, a little less strongly than they expressed it.
DEFAULT_RULES: dict[Emotion, EmpathyRule] = {
    Emotion.NEUTRAL: EmpathyRule(ReplyStyle(Emotion.NEUTRAL, 1.0)),
    Emotion.HAPPY: EmpathyRule(ReplyStyle(Emotion.HAPPY, 0.8)),
    Emotion.ANGRY: EmpathyRule(ReplyStyle(Emotion.SAD, 0.4), "非常抱歉给您带来了不便，"),
    Emotion.HATE: EmpathyRule(ReplyStyle(Emotion.NEUTRAL, 0.8), "抱歉让您有不好的体验，"),
    Emotion.SAD: EmpathyRule(ReplyStyle(Emotion.SAD, 0.5), "理解您的心情，"),
    Emotion.FEAR: EmpathyRule(ReplyStyle(Emotion.NEUTRAL, 0.8), "请别着急，"),
    Emotion.SURPRISE: EmpathyRule(ReplyStyle(Emotion.HAPPY, 0.5)),
}


class EmpathyMap:
    """User emotion → reply style (+ acknowledgement), with a confidence floor."""

    def __init__(
        self, rules: dict[Emotion, EmpathyRule] | None = None, min_confidence: float = 0.0
    ) -> None:
        self.rules = {**DEFAULT_RULES, **(rules or {})}
        self.min_confidence = min_confidence

    def rule_for(self, user: UserEmotion | None) -> EmpathyRule:
        """The rule for ``user``; an unsure estimate (below ``min_confidence``) is treated as neutral."""
        if user is None or user.confidence < self.min_confidence:
            return self.rules[Emotion.NEUTRAL]
        return self.rules[user.emotion]

    def style_for(self, user: UserEmotion | None) -> ReplyStyle:
        """The reply style for ``user``."""
        return self.rule_for(user).style

    @classmethod
    def from_mapping(
        cls, data: Any, where: str = "empathy map", min_confidence: float = 0.0
    ) -> EmpathyMap:
        """Parse ``{user_emotion: {emotion, intensity, prefix}}``."""
        if not isinstance(data, dict):
            raise EmpathyMapError(f"{where}: expected a mapping of emotion -> rule")
        rules: dict[Emotion, EmpathyRule] = {}
        for key, value in data.items():
            try:
                user = parse_emotion(str(key))
                if not isinstance(value, dict):
                    raise EmpathyMapError(f"{where}: {key}: expected {{emotion, intensity}}")
                reply = parse_emotion(str(value.get("emotion", "neutral")))
                intensity = check_intensity(float(value.get("intensity", 1.0)))
            except (UnknownEmotionError, ValueError, TypeError) as exc:
                raise EmpathyMapError(f"{where}: {key}: {exc}") from None
            rules[user] = EmpathyRule(ReplyStyle(reply, intensity), str(value.get("prefix", "")))
        return cls(rules, min_confidence)

    @classmethod
    def from_file(cls, path: str | Path, min_confidence: float = 0.0) -> EmpathyMap:
        """Load a YAML empathy map."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EmpathyMapError(f"empathy map not found: {p}") from None
        except yaml.YAMLError as exc:
            raise EmpathyMapError(f"{p}: invalid YAML: {exc}") from None
        return cls.from_mapping(data, str(p), min_confidence)
