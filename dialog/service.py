"""The emotion analysis used by ``tingshuo emotion`` and the engine's ``POST /api/emotion``."""

from __future__ import annotations

from typing import Any

from tingshuo.core.audio import Audio
from tingshuo.dialog.base import EmotionBridge


def analyze(bridge: EmotionBridge, audio: Audio | None, text: str | None) -> dict[str, Any]:
    """Audio and/or text → a JSON-ready dict.

    Keys: ``emotion``, ``confidence``, ``distribution`` (emotion → probability, sorted by
    probability), ``source`` (text | audio | fused) and ``reply_style`` (``emotion``,
    ``intensity``). Raises :class:`dialog.bridge.EmotionInputError` (a ``ValueError``) when
    neither usable audio nor text is given.
    """
    user = bridge.estimate(audio, text)
    style = bridge.reply_style(user)
    dist = sorted(user.distribution.items(), key=lambda kv: -kv[1])
    return {
        "emotion": user.emotion.value,
        "confidence": round(user.confidence, 4),
        "distribution": {e.value: round(p, 4) for e, p in dist},
        "source": user.source,
        "reply_style": {"emotion": style.emotion.value, "intensity": style.intensity},
    }
