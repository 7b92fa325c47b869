"""The bridge's speech branch: pooled recognizer encoder states + prosody → emotion.

Input features of one utterance (:func:`speech_vector`):

- the mean and standard deviation of the Whisper-base encoder frames over the voiced part
  of the utterance (:class:`tingshuo.asr.encoder_pooling.EncoderStates`, 1024 values), taken
  from the encoder pass the recognizer already ran for the transcript;
- the prosodic features of :mod:`tingshuo.dialog.prosody` (f0, intensity, rate, voice
  quality; the text-derived rate is left out so speech and text stay separate evidence).

Both are z-scored against the same speaker (:mod:`tingshuo.dialog.speaker_norm`) and read by
a multinomial logistic regression; a second, prosody-only head answers when no encoder
states exist (the Paraformer backend, or audio that reached the bridge without recognition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tingshuo.asr.encoder_pooling import EncoderStates
from tingshuo.core.audio import Audio
from tingshuo.core.emotions import EMOTIONS
from tingshuo.dialog.prosody import FEATURE_NAMES, prosodic_features
from tingshuo.dialog.speaker_norm import SpeakerBaseline

PROSODY_USED: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n != "text_rate_chars_per_s")
_PROSODY_INDEX = np.array([FEATURE_NAMES.index(n) for n in PROSODY_USED])
ENCODER_POOLED_DIM = 1024  # Whisper base: 512-d frames, mean + std
CANONICAL: tuple[str, ...] = tuple(e.value for e in EMOTIONS)


@dataclass(frozen=True)
class SpeechFeatures:
    """Raw (not yet speaker-normalised) speech features of one utterance."""

    prosody: np.ndarray  # (len(PROSODY_USED),)
    encoder: np.ndarray | None = None  # (ENCODER_POOLED_DIM,) or None without encoder states


def speech_features(audio: Audio, encoder: EncoderStates | None = None) -> SpeechFeatures:
    """Measure one utterance (raises :class:`tingshuo.dialog.prosody.AudioTooShortError`)."""
    prosody = prosodic_features(audio)[_PROSODY_INDEX].astype(np.float64)
    enc = None if encoder is None else np.asarray(encoder.pooled, dtype=np.float64)
    return SpeechFeatures(np.nan_to_num(prosody), enc)


def select_prosody(full: np.ndarray) -> np.ndarray:
    """The used columns of a full :data:`tingshuo.dialog.prosody.FEATURE_NAMES` matrix."""
    return np.asarray(full)[..., _PROSODY_INDEX]


@dataclass(frozen=True)
class LinearHead:
    """Softmax regression over z-scored features; ``classes`` ⊆ the canonical emotions."""

    coef: np.ndarray  # (k, d)
    intercept: np.ndarray  # (k,)
    classes: tuple[str, ...]
    temperature: float = 1.0

    def log_probs(self, z: np.ndarray) -> np.ndarray:
        """Calibrated log-probabilities ``(n, 7)`` in canonical order (untrained classes: -inf)."""
        z2 = np.atleast_2d(z)
        logits = (z2 @ self.coef.T + self.intercept) / self.temperature
        logits = logits - logits.max(1, keepdims=True)
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        out = np.full((len(z2), len(CANONICAL)), -np.inf)
        for j, c in enumerate(self.classes):
            out[:, CANONICAL.index(c)] = lp[:, j]
        return out


@dataclass(frozen=True)
class CorpusStats:
    """The average training speaker: mean of speaker means, mean of within-speaker variances."""

    mean: np.ndarray
    var: np.ndarray


class SpeakerProfile:
    """One speaker's running baselines (prosody always, encoder states when present)."""

    def __init__(
        self, prosody_prior: CorpusStats, encoder_prior: CorpusStats, prior_weight: float
    ) -> None:
        self.prosody = SpeakerBaseline(prosody_prior.mean, prosody_prior.var, prior_weight)
        self.encoder = SpeakerBaseline(encoder_prior.mean, encoder_prior.var, prior_weight)

    def add(self, feats: SpeechFeatures) -> None:
        """Count one more utterance of this speaker."""
        self.prosody.add(feats.prosody)
        if feats.encoder is not None:
            self.encoder.add(feats.encoder)

    @property
    def turns(self) -> int:
        """Utterances counted so far."""
        return self.prosody.n


@dataclass(frozen=True)
class SpeechEmotionModel:
    """The two speech heads and the corpus statistics their speaker baselines start from."""

    full: LinearHead  # encoder states + prosody
    prosody_only: LinearHead
    prosody_prior: CorpusStats
    encoder_prior: CorpusStats
    prior_weight: float = 4.0

    def new_profile(self) -> SpeakerProfile:
        """A fresh speaker profile (what a dialogue session starts with)."""
        return SpeakerProfile(self.prosody_prior, self.encoder_prior, self.prior_weight)

    def log_probs(self, feats: SpeechFeatures, profile: SpeakerProfile) -> tuple[np.ndarray, str]:
        """(log-probabilities (7,), head used) normalised against ``profile`` (not updated)."""
        zp = profile.prosody.normalise(feats.prosody)
        if feats.encoder is None:
            return self.prosody_only.log_probs(zp)[0], "prosody"
        ze = profile.encoder.normalise(feats.encoder)
        return self.full.log_probs(np.concatenate([ze, zp]))[0], "encoder+prosody"
