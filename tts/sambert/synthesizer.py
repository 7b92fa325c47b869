"""The ``sambert`` synthesizer: front end -> SAM-BERT -> HiFi-GAN, per text segment.

Emotion is rendered natively by the voice's emotion tokens (zhitian_emo and the other
``*_emo`` voices were trained with them); explicit rate goes to the duration predictor,
explicit pitch and volume to :mod:`tts.prosody`. Voices without emotion tokens get the
shared prosody rendering of the emotion instead (``emotion_mode``).
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import Emotion
from tingshuo.tts.base import VoiceInfo
from tingshuo.tts.pipeline import PlannedSegment, SegmentSynthesizer
from tingshuo.tts.prosody import ProsodyTarget, render, target_for
from tingshuo.tts.sambert.frontend import Frontend
from tingshuo.tts.sambert.model_dir import LoadedVoice, ModelDir

# canonical emotion -> KAN-TTS emo_category token (the zhitian_emo set)
EMOTION_TOKENS: dict[Emotion, str] = {
    Emotion.NEUTRAL: "emotion_neutral",
    Emotion.HAPPY: "emotion_happy",
    Emotion.ANGRY: "emotion_angry",
    Emotion.SAD: "emotion_sad",
    Emotion.FEAR: "emotion_fear",
    Emotion.HATE: "emotion_hate",
    Emotion.SURPRISE: "emotion_surprise",
}
EMOTION_MODES = ("auto", "tokens", "prosody")


class SambertSynthesizer(SegmentSynthesizer):
    """Native SAM-BERT + HiFi-GAN over a ModelScope Sambert-HifiGan directory."""

    name = "sambert"
    renders_rate = True

    def __init__(
        self,
        model_dir: ModelDir,
        voice: str = "",
        threads: int = 2,
        emotion_mode: str = "auto",
        max_segment_chars: int = 60,
        first_segment_chars: int = 10,  # short first segment: fast first audio
        sentence_pause_ms: int = 250,
        clause_pause_ms: int = 120,
    ) -> None:
        if emotion_mode not in EMOTION_MODES:
            raise ValueError(f"emotion_mode must be one of {EMOTION_MODES}, got {emotion_mode!r}")
        default = voice or model_dir.voices[0]
        model_dir.voice_dir(default)  # unknown voice -> ModelDirError listing the voices
        super().__init__(
            default,
            max_segment_chars,
            first_segment_chars,
            sentence_pause_ms,
            clause_pause_ms,
            emotion_rendering=False,
        )
        if threads > 0:
            torch.set_num_threads(threads)
        self.model_dir = model_dir
        self.emotion_mode = emotion_mode
        self.frontend = Frontend()
        self._loaded: dict[str, LoadedVoice] = {}
        self._voice_locks = {v: threading.Lock() for v in model_dir.voices}
        first = self.load(default)
        self.sample_rate = first.sample_rate
        self.model_version = (
            f"sambert:{model_dir.root.name}/{default}:"
            f"{first.am_checkpoint.name}+{first.voc_checkpoint.name}"
        )

    def voices(self) -> list[VoiceInfo]:
        """Voices of voices.json, default first."""
        names = [self.default_voice] + [v for v in self.model_dir.voices if v != self.default_voice]
        return [
            VoiceInfo(
                n,
                "zh-CN",
                "Sambert-HifiGan" + (" (emotion tokens)" if self.native_emotions(n) else ""),
            )
            for n in names
        ]

    def native_emotions(self, voice: str) -> bool:
        """Whether ``voice`` renders emotion through its emotion tokens."""
        if self.emotion_mode == "auto":
            return "emo" in voice.lower()
        return self.emotion_mode == "tokens"

    def load(self, voice: str) -> LoadedVoice:
        """The loaded voice (built on first use, then kept); ModelDirError for unknown names."""
        self.model_dir.voice_dir(voice)
        with self._voice_locks[voice]:
            if voice not in self._loaded:
                self._loaded[voice] = self.model_dir.load_voice(voice)
            return self._loaded[voice]

    # -- rendering ------------------------------------------------------------------------
    def token_lines(self, text: str, voice: str, emotion: Emotion = Emotion.NEUTRAL) -> list[str]:
        """The ``{sy$tone$...}`` lines the acoustic model will see for ``text``."""
        loaded = self.load(voice)
        token = EMOTION_TOKENS[emotion] if self.native_emotions(voice) else "emotion_neutral"
        return self.frontend.tokens(text, token, loaded.speaker)

    def mel(
        self, line: str, voice: str, rate: float = 1.0, emotion_weight: float = 1.0
    ) -> torch.Tensor:
        """Acoustic model on one token line -> normalised mel [T, num_mels]."""
        loaded = self.load(voice)
        enc = loaded.tables.encode(line)
        ling = torch.from_numpy(
            np.stack([enc.sy, enc.tone, enc.syllable_flag, enc.word_segment], -1)[:-1]
        ).long()[None]
        emo = torch.from_numpy(enc.emotion[:-1]).long()[None]
        spk = torch.from_numpy(enc.speaker[:-1]).long()[None]
        lengths = torch.tensor([ling.shape[1]])
        neutral = loaded.tables.index("emotion", "emotion_neutral")
        with self._voice_locks[voice], torch.inference_mode():
            out = loaded.acoustic(
                ling, emo, spk, lengths, 1.0 / rate, float(emotion_weight), neutral
            )
        return out.mel()

    def vocode(self, mel: torch.Tensor, voice: str) -> np.ndarray:
        """HiFi-GAN on a mel [T, num_mels] -> float32 samples (T * hop)."""
        loaded = self.load(voice)
        if mel.shape[0] == 0:
            return np.zeros(0, np.float32)
        with self._voice_locks[voice], torch.inference_mode():
            wav = loaded.vocoder(mel.T[None])
        return wav.reshape(-1).numpy().astype(np.float32)

    def _render(
        self, text: str, voice: str, emotion: Emotion, intensity: float, rate: float
    ) -> np.ndarray:
        pieces: list[np.ndarray] = []
        gap = np.zeros(self.sample_rate * self.sentence_pause_ms // 1000, np.float32)
        weight = intensity if emotion is not Emotion.NEUTRAL else 1.0
        for line in self.token_lines(text, voice, emotion):
            if pieces:
                pieces.append(gap)
            pieces.append(self.vocode(self.mel(line, voice, rate, weight), voice))
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        voice_rate = self.load(voice).sample_rate
        if voice_rate != self.sample_rate:
            samples = Audio(samples, voice_rate).resample(self.sample_rate).samples
        return samples

    def render_segment(self, text: str, voice: str, target: ProsodyTarget) -> np.ndarray:
        """Neutral rendering of one segment at the explicit (style) rate (base-class hook)."""
        return self._render(text, voice, Emotion.NEUTRAL, 1.0, target.rate / target.emotion_rate)

    def segment_audio(self, segment: PlannedSegment, voice: str) -> Audio:
        """One planned segment: emotion by tokens (or prosody), then pitch/volume and pauses.

        The explicit rate always goes to the duration predictor; for voices without emotion
        tokens the emotion's prosody (incl. its rate share) is applied by :mod:`tts.prosody`.
        """
        st = segment.style
        native = self.native_emotions(voice)
        target = target_for(
            st.emotion, 0.0 if native else st.intensity, st.rate, st.pitch, st.volume
        )
        if native:
            samples = self._render(segment.text, voice, st.emotion, st.intensity, st.rate)
        else:
            samples = self._render(segment.text, voice, Emotion.NEUTRAL, 1.0, st.rate)
        samples = render(samples, self.sample_rate, target, style_rate_done=True)
        sr = self.sample_rate
        before = np.zeros(sr * segment.pause_before_ms // 1000, np.float32)
        after = np.zeros(sr * segment.pause_after_ms // 1000, np.float32)
        return Audio(np.concatenate([before, samples, after]).astype(np.float32), sr)
