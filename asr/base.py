"""Recognition interfaces: offline ``Recognizer`` and its streaming ``RecognizerStream``.

The streaming API is shaped like sherpa-onnx's: the model object is shared and immutable,
streams are small and stateful. ``accept_waveform`` is cheap (buffering + VAD) and may run on
the event loop; ``decode`` does the model work and must run in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tingshuo.asr.encoder_pooling import EncoderStates
from tingshuo.core.audio import Audio

ASR_SAMPLE_RATE = 16000  # Hz: every recognizer here decodes 16 kHz audio


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised text with times in seconds from the start of the audio."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """Result of recognising one audio input or one utterance.

    ``flags`` marks decoding trouble that was detected and handled, e.g.
    ``"repetition_truncated"`` or ``"hallucination_dropped"``.
    """

    text: str
    segments: tuple[Segment, ...] = ()
    language: str = "zh"
    flags: tuple[str, ...] = ()
    # the recognizer's encoder output pooled over the utterance (Whisper only): the emotion
    # bridge reads it instead of running the encoder a second time
    encoder: EncoderStates | None = field(default=None, repr=False, compare=False)


# ---- stream events -------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    """VAD opened an utterance at ``time`` s (stream time, pre-roll included before it)."""

    time: float


@dataclass(frozen=True)
class SpeechStopped:
    """VAD closed the utterance at ``time`` s (after the hangover)."""

    time: float


@dataclass(frozen=True)
class PartialResult:
    """Provisional text of the open utterance."""

    text: str
    time: float  # stream time of the newest audio the text covers


@dataclass(frozen=True)
class FinalResult:
    """Final transcript of one utterance, with its audio (16 kHz) for downstream stages."""

    transcript: Transcript
    start: float
    end: float
    audio: Audio = field(repr=False)


StreamEvent = SpeechStarted | SpeechStopped | PartialResult | FinalResult


@runtime_checkable
class RecognizerStream(Protocol):
    """One conversation's recognition state."""

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> list[StreamEvent]:
        """Append PCM (float32 in [-1, 1], any supported rate, any frame size); return VAD events."""
        ...

    def input_finished(self) -> None:
        """No more audio: close any open utterance so ``decode`` finalises it."""
        ...

    @property
    def is_ready(self) -> bool:
        """Whether ``decode`` has work to do (a partial is due or an utterance ended)."""
        ...

    def decode(self) -> list[StreamEvent]:
        """Run the model on pending audio; returns partial and final results. Blocking."""
        ...

    @property
    def result(self) -> str:
        """Text of the open utterance so far (empty when none)."""
        ...

    @property
    def is_endpoint(self) -> bool:
        """Whether the last utterance has ended and not yet been reset."""
        ...

    def reset(self) -> None:
        """Drop all buffered audio and state."""
        ...


@runtime_checkable
class Recognizer(Protocol):
    """A loaded speech recognition model (thread-safe for concurrent ``transcribe`` calls)."""

    name: str

    def transcribe(self, audio: Audio, *, itn: bool = False, hotwords: str = "") -> Transcript:
        """Recognise a whole recording (any sample rate; resampled as needed)."""
        ...

    def create_stream(self, *, profile: str = "dialogue") -> RecognizerStream:
        """A new streaming state using this model.

        ``profile``: ``"dialogue"`` (turns end at short pauses, ``asr.endpoint``) or
        ``"transcription"`` (finals at long pauses, ``asr.transcription_endpoint``).
        """
        ...
