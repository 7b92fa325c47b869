"""The trained emotion bridge: audio and/or text → the user's emotion, and the reply style.

Text and speech are embedded into the shared space of :class:`dialog.bridge_model.BridgeModel`
and read against the emotion prototypes. With both, the calibrated log-probabilities of
the two modalities are added (a product of experts) and recalibrated with the fused
temperature fitted on the development split.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import torch

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import EMOTIONS, Emotion
from tingshuo.dialog.base import ReplyStyle, UserEmotion
from tingshuo.dialog.bridge_model import BridgeModel
from tingshuo.dialog.empathy import EmpathyMap
from tingshuo.dialog.prosody import AudioTooShortError, prosodic_features
from tingshuo.dialog.text_features import SentenceEncoder, ngram_ids

log = logging.getLogger(__name__)


class EmotionInputError(ValueError):
    """Neither usable audio nor text was given to the bridge."""


class TrainedBridge:
    """:class:`dialog.base.EmotionBridge` backed by a trained checkpoint (thread-safe)."""

    def __init__(
        self,
        model: BridgeModel,
        encoder: SentenceEncoder,
        empathy: EmpathyMap | None = None,
        fuse: bool = True,
    ) -> None:
        self.model = model.eval()
        self.encoder = encoder
        self.empathy = empathy or EmpathyMap()
        self.fuse = fuse
        self._lock = threading.Lock()

    @torch.no_grad()
    def text_logits(self, text: str) -> torch.Tensor:
        """Calibrated class logits of ``text`` (shape ``(7,)``)."""
        embed = torch.from_numpy(self.encoder.encode([text]))
        ids = torch.tensor(ngram_ids(text, self.model.dims.ngram_buckets), dtype=torch.int64)
        z = self.model.embed_text(embed, ids, torch.zeros(1, dtype=torch.int64))
        return self.model.class_logits(z, 0)[0] / self.model.temperature[0]

    @torch.no_grad()
    def speech_logits(self, audio: Audio, text: str | None = None) -> torch.Tensor:
        """Calibrated class logits of ``audio`` (raises :class:`AudioTooShortError`)."""
        feats = torch.from_numpy(prosodic_features(audio, text))[None]
        return (
            self.model.class_logits(self.model.embed_speech(feats), 1)[0]
            / self.model.temperature[1]
        )

    def estimate(self, audio: Audio | None, text: str | None) -> UserEmotion:
        """Emotion from audio, text or both (fused). Raises :class:`EmotionInputError` if neither."""
        text = (text or "").strip() or None
        if audio is None and text is None:
            raise EmotionInputError("the emotion bridge needs audio, text or both")
        logits: list[torch.Tensor] = []
        sources: list[str] = []
        with self._lock:
            if text is not None:
                logits.append(self.text_logits(text))
                sources.append("text")
            if audio is not None and (self.fuse or text is None):
                try:
                    logits.append(self.speech_logits(audio, text))
                    sources.append("audio")
                except AudioTooShortError as exc:
                    if text is None:
                        raise EmotionInputError(str(exc)) from None
                    log.debug("audio ignored: %s", exc)
            if len(logits) == 2:
                combined = torch.log_softmax(logits[0], -1) + torch.log_softmax(logits[1], -1)
                final = combined / self.model.temperature[2]
                source = "fused"
            else:
                final, source = logits[0], sources[0]
        probs = torch.softmax(final, -1).numpy().astype(np.float64)
        best = int(probs.argmax())
        return UserEmotion(
            emotion=EMOTIONS[best],
            confidence=float(probs[best]),
            distribution={e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)},
            source=source,
        )

    def reply_style(self, user_emotion: UserEmotion) -> ReplyStyle:
        """The empathy map's reply style for ``user_emotion``."""
        return self.empathy.style_for(user_emotion)


def neutral_emotion() -> UserEmotion:
    """A certain neutral estimate (what a policy assumes without a bridge)."""
    return UserEmotion(Emotion.NEUTRAL, 1.0, {e: float(e == Emotion.NEUTRAL) for e in EMOTIONS})
