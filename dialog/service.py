"""The emotion analysis used by ``tingshuo emotion`` and the engine's ``POST /api/emotion``.

With a recognizer, each recording is recognised once: the transcript supplies the text
(unless given) and, for Whisper, the pooled encoder states of that same pass feed the
speech branch. ``analyze_same_speaker`` treats several recordings as one speaker's
utterances and normalises each against all of them.
"""

from __future__ import annotations

from typing import Any, Protocol

from tingshuo.asr.base import Transcript
from tingshuo.core.audio import Audio
from tingshuo.dialog.base import UserEmotion
from tingshuo.dialog.bridge import TrainedBridge, check_audio


class _Recognizer(Protocol):
    def transcribe(self, audio: Audio) -> Transcript: ...


def _to_dict(bridge: TrainedBridge, user: UserEmotion, transcript: str | None) -> dict[str, Any]:
    style = bridge.reply_style(user)
    dist = sorted(user.distribution.items(), key=lambda kv: -kv[1])
    out: dict[str, Any] = {
        "emotion": user.emotion.value,
        "confidence": round(user.confidence, 4),
        "uncertain": user.uncertain,
        "distribution": {e.value: round(p, 4) for e, p in dist},
        "source": user.source,
        "reply_style": {"emotion": style.emotion.value, "intensity": style.intensity},
    }
    if transcript is not None:
        out["transcript"] = transcript
    return out


def _recognise(
    audio: Audio, text: str | None, recognizer: _Recognizer | None
) -> tuple[str | None, Any, str | None]:
    """(text to use, encoder states, transcript) — one recognition pass when a recognizer is given."""
    if recognizer is None:
        return text, None, None
    transcript = recognizer.transcribe(audio)
    heard = transcript.text.strip()
    return (text if text else heard or None), transcript.encoder, heard


def analyze(
    bridge: TrainedBridge,
    audio: Audio | None,
    text: str | None,
    recognizer: _Recognizer | None = None,
) -> dict[str, Any]:
    """Audio and/or text → a JSON-ready dict.

    Keys: ``emotion``, ``confidence``, ``uncertain``, ``distribution`` (sorted by
    probability), ``source`` (text | audio | fused), ``reply_style`` and, when recognised,
    ``transcript``. Raises :class:`tingshuo.dialog.bridge.EmotionInputError` (typed:
    ``SilentAudioError``, ``TooShortAudioError``) when the input is unusable.
    """
    if audio is None:
        return _to_dict(bridge, bridge.estimate(None, text), None)
    if not (text or "").strip():
        check_audio(audio)  # typed error before any model runs
    use_text, encoder, heard = _recognise(audio, text, recognizer)
    return _to_dict(bridge, bridge.estimate(audio, use_text, encoder=encoder), heard)


def analyze_same_speaker(
    bridge: TrainedBridge,
    audios: list[Audio],
    text: str | None = None,
    recognizer: _Recognizer | None = None,
) -> list[dict[str, Any]]:
    """Recordings of one speaker: each normalised against all of them (raises on unusable audio)."""
    measured = []
    for audio in audios:
        check_audio(audio)
        use_text, encoder, heard = _recognise(audio, text, recognizer)
        measured.append((bridge.measure(audio, encoder), use_text, heard))
    profile = bridge.new_speaker()
    for feats, _, _ in measured:
        profile.add(feats)
    return [
        _to_dict(
            bridge,
            bridge.estimate(None, use_text, features=feats, speaker=profile, learn=False),
            heard,
        )
        for feats, use_text, heard in measured
    ]
