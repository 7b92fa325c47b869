"""The trained emotion bridge: speech and/or text → a calibrated emotion, honest when unsure.

- speech (:mod:`tingshuo.dialog.speech_emotion`): the recognizer's pooled encoder states
  plus prosody, z-scored against the same speaker's earlier utterances (a
  :class:`~tingshuo.dialog.speech_emotion.SpeakerProfile` per dialogue session, shrunk toward
  the corpus statistics for the first turns), read by a calibrated linear head;
- text (:mod:`tingshuo.dialog.text_emotion`): calibrated character/word n-gram and sentence
  embedding classifier;
- fused: a weighted product of the two calibrated distributions with its own temperature.

When the top calibrated probability is below ``min_confidence`` (chosen on development
data when the checkpoint was trained) the estimate is reported as ``neutral`` with
``uncertain=True``; policies do not apologise or escalate on it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import numpy as np

from tingshuo.asr.encoder_pooling import EncoderStates
from tingshuo.core.audio import Audio
from tingshuo.core.emotions import EMOTIONS, Emotion
from tingshuo.dialog.base import ReplyStyle, UserEmotion
from tingshuo.dialog.checkpoint import BridgeCheckpoint
from tingshuo.dialog.empathy import EmpathyMap
from tingshuo.dialog.prosody import AudioTooShortError
from tingshuo.dialog.speech_emotion import SpeakerProfile, SpeechFeatures, speech_features

log = logging.getLogger(__name__)
SILENCE_RMS = 1e-3  # below this RMS (≈ -60 dBFS) a recording is treated as silent


class EmotionInputError(ValueError):
    """Neither usable audio nor text was given to the bridge."""


class SilentAudioError(EmotionInputError):
    """The recording holds no audible signal."""


class TooShortAudioError(EmotionInputError):
    """The recording is too short to measure (under 0.1 s of audio)."""


def check_audio(audio: Audio) -> None:
    """Raise a typed :class:`EmotionInputError` for audio the speech branch cannot read."""
    if audio.duration < 0.1:
        raise TooShortAudioError(f"audio of {audio.duration:.3f} s is too short (need ≥ 0.1 s)")
    samples = np.asarray(audio.samples, dtype=np.float64)
    if not len(samples) or float(np.sqrt(np.mean(samples**2))) < SILENCE_RMS:
        raise SilentAudioError("the recording is silent (no signal above -60 dBFS)")


def fuse(log_speech: np.ndarray, prob_text: np.ndarray, ckpt: BridgeCheckpoint) -> np.ndarray:
    """The fused distribution (7,) of calibrated speech log-probs and text probabilities."""
    f = ckpt.fusion
    text = (1.0 - f.text_floor) * prob_text + f.text_floor / len(prob_text)
    speech = np.where(np.isfinite(log_speech), log_speech, -30.0)
    z = (f.speech_weight * speech + f.text_weight * np.log(text)) / f.temperature
    z = z - z.max()
    p = np.exp(z)
    return p / p.sum()


class TrainedBridge:
    """:class:`tingshuo.dialog.base.EmotionBridge` backed by a checkpoint (thread-safe)."""

    def __init__(
        self, ckpt: BridgeCheckpoint, empathy: EmpathyMap | None = None, fuse: bool = True
    ) -> None:
        self.ckpt = ckpt
        self.empathy = empathy or EmpathyMap(min_confidence=ckpt.min_confidence)
        self.fuse = fuse
        self._lock = threading.Lock()

    @property
    def min_confidence(self) -> float:
        """Calibrated probability below which the estimate is reported as uncertain."""
        return self.ckpt.min_confidence

    def new_speaker(self) -> SpeakerProfile:
        """A fresh per-speaker baseline (one per dialogue session)."""
        return self.ckpt.speech.new_profile()

    def measure(self, audio: Audio, encoder: EncoderStates | None = None) -> SpeechFeatures:
        """Raw speech features (typed :class:`EmotionInputError` on silent / too short audio)."""
        check_audio(audio)
        try:
            return speech_features(audio, encoder)
        except AudioTooShortError as exc:
            raise TooShortAudioError(str(exc)) from None

    def complete_features(
        self, feats: SpeechFeatures, encoder: EncoderStates | None
    ) -> SpeechFeatures:
        """Features measured from the audio alone (``measure(audio)``, e.g. while the
        recognizer was still decoding) with that decode's pooled encoder states added."""
        if encoder is None:
            return feats
        return dataclasses.replace(feats, encoder=np.asarray(encoder.pooled, dtype=np.float64))

    def speech_log_probs(self, feats: SpeechFeatures, speaker: SpeakerProfile | None) -> np.ndarray:
        """Calibrated speech log-probabilities (7,) against ``speaker`` (corpus prior if None)."""
        profile = speaker if speaker is not None else self.new_speaker()
        return self.ckpt.speech.log_probs(feats, profile)[0]

    def text_probs(self, text: str) -> np.ndarray:
        """Calibrated text probabilities (7,)."""
        with self._lock:  # the sentence encoder is shared
            return np.asarray(self.ckpt.text.predict_proba([text])[0], dtype=np.float64)

    def estimate(
        self,
        audio: Audio | None,
        text: str | None,
        *,
        encoder: EncoderStates | None = None,
        speaker: Any = None,
        features: SpeechFeatures | None = None,
        learn: bool = True,
    ) -> UserEmotion:
        """Emotion from audio, text or both (fused).

        ``encoder``: the recognizer's pooled states of ``audio`` (else the prosody-only head);
        ``speaker``: a :class:`SpeakerProfile` to normalise against, updated with this
        utterance afterwards unless ``learn`` is false; ``features``: already measured
        features (instead of ``audio``).
        Raises :class:`EmotionInputError` when neither usable audio nor text is given.
        """
        text = (text or "").strip() or None
        if audio is None and features is None and text is None:
            raise EmotionInputError("the emotion bridge needs audio, text or both")
        speech: np.ndarray | None = None
        if (audio is not None or features is not None) and (self.fuse or text is None):
            try:
                feats = features if features is not None else self.measure(audio, encoder)  # type: ignore[arg-type]
            except EmotionInputError:
                if text is None:
                    raise
                feats = None
                log.debug("audio ignored, answering from text")
            if feats is not None:
                speech = self.speech_log_probs(feats, speaker)
                if speaker is not None and learn:
                    speaker.add(feats)
        text_p = self.text_probs(text) if text is not None else None
        if speech is not None and text_p is not None:
            probs, source = fuse(speech, text_p, self.ckpt), "fused"
        elif speech is not None:
            probs, source = np.exp(speech - speech.max()), "audio"
            probs = probs / probs.sum()
        else:
            probs, source = text_p, "text"  # type: ignore[assignment]
        return self._decide(probs, source)

    def _decide(self, probs: np.ndarray, source: str) -> UserEmotion:
        dist = {e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)}
        best = EMOTIONS[int(np.argmax(probs))]
        if dist[best] < self.min_confidence:
            return UserEmotion(Emotion.NEUTRAL, dist[Emotion.NEUTRAL], dist, source, True)
        return UserEmotion(best, dist[best], dist, source)

    def reply_style(self, user_emotion: UserEmotion) -> ReplyStyle:
        """The empathy map's reply style for ``user_emotion``."""
        return self.empathy.style_for(user_emotion)


def neutral_emotion() -> UserEmotion:
    """A certain neutral estimate (what a policy assumes without a bridge)."""
    return UserEmotion(Emotion.NEUTRAL, 1.0, {e: float(e == Emotion.NEUTRAL) for e in EMOTIONS})
