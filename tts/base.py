"""Synthesis interfaces: ``Synthesizer`` and the ``Style`` a reply is rendered in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import Emotion, check_intensity


class UnknownVoiceError(ValueError):
    """A voice name the synthesizer does not have; the message lists the available ones."""


class SSMLError(ValueError):
    """Invalid SSML markup; the message says what and where."""


@dataclass(frozen=True)
class Style:
    """How to speak: emotion (0–2 intensity) plus explicit prosody adjustments."""

    emotion: Emotion = Emotion.NEUTRAL
    intensity: float = 1.0
    rate: float = 1.0  # speaking-rate factor (1 = the voice's own)
    pitch: float = 0.0  # semitones
    volume: float = 1.0  # linear gain

    def __post_init__(self) -> None:
        check_intensity(self.intensity)
        if not 0.25 <= self.rate <= 4.0:
            raise ValueError(f"rate must be in [0.25, 4.0], got {self.rate}")


@dataclass(frozen=True)
class VoiceInfo:
    """One selectable voice."""

    name: str
    language: str  # BCP 47: "zh" native Mandarin, "ja" Japanese speakers reading Mandarin
    description: str = ""
    gender: str = ""  # "female" | "male" | "" (unknown)


@runtime_checkable
class Synthesizer(Protocol):
    """A loaded synthesis model (thread-safe for concurrent calls)."""

    name: str
    sample_rate: int

    @property
    def model_version(self) -> str:
        """Weights and rendering version; part of every synthesis cache key."""
        ...

    def voices(self) -> list[VoiceInfo]:
        """Available voices, default first."""
        ...

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None) -> Audio:
        """Text (plain or SSML) to audio at ``sample_rate``. Blocking."""
        ...

    def stream(
        self,
        text: str,
        style: Style | None = None,
        voice: str | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[Audio]:
        """Yield audio per text segment as soon as each is ready (model work in ``executor``)."""
        ...
