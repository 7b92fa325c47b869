"""Deterministic stand-ins for the recognizer and synthesizer, for Session/protocol logic tests.

They are NOT models: an energy VAD that reports speech start/stop and a scripted transcript,
and a tone "synthesizer" whose audio length follows the text. Real-model behaviour is covered
by the e2e tests (tests/e2e/), which use Whisper and Kokoro.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor

import numpy as np

from asr.base import (
    FinalResult,
    PartialResult,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
    Transcript,
)
from engine.audio import Audio, resample
from tts.base import Style, UnknownVoiceError, VoiceInfo

RATE = 16000
FRAME = 320  # 20 ms


class EnergyStream:
    """Energy VAD (RMS > 0.01 opens after 100 ms, 300 ms of quiet closes) with scripted text."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self._lock = threading.RLock()  # decode runs in a worker while audio keeps arriving
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(0, np.float32)
        self._t = 0.0
        self._speech = 0
        self._quiet = 0
        self._open = False
        self._utt: list[np.ndarray] = []
        self._start = 0.0
        self._pending: list[StreamEvent] = []
        self._since_partial = 0
        self._n_partial = 0
        self._ended = False

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> list[StreamEvent]:
        with self._lock:
            return self._accept(sample_rate, samples)

    def _accept(self, sample_rate: int, samples: np.ndarray) -> list[StreamEvent]:
        self._buf = np.concatenate([self._buf, resample(samples, sample_rate, RATE)])
        events: list[StreamEvent] = []
        while len(self._buf) >= FRAME:
            frame, self._buf = self._buf[:FRAME], self._buf[FRAME:]
            self._t += FRAME / RATE
            loud = float(np.sqrt(np.mean(frame**2))) > 0.01
            if self._open:
                self._utt.append(frame)
                self._quiet = 0 if loud else self._quiet + 1
                self._since_partial += 1
                if self._since_partial >= 15:  # every 300 ms: a growing prefix of the text
                    self._since_partial = 0
                    self._n_partial += 1
                    upcoming = self.texts[0] if self.texts else "…"
                    self._pending.append(PartialResult(upcoming[: self._n_partial], self._t))
                if self._quiet >= 15:
                    self._open = False
                    events.append(SpeechStopped(self._t))
                    self._close()
            else:
                self._speech = self._speech + 1 if loud else 0
                if self._speech >= 5:
                    self._open, self._quiet, self._start = True, 0, self._t - 0.1
                    self._utt = [frame]
                    self._n_partial = 0
                    events.append(SpeechStarted(self._start))
        return events

    def _close(self) -> None:
        text = self.texts.pop(0) if self.texts else ""
        audio = Audio(np.concatenate(self._utt) if self._utt else np.zeros(1, np.float32), RATE)
        self._pending.append(FinalResult(Transcript(text), self._start, self._t, audio))
        self._utt = []

    def input_finished(self) -> None:
        with self._lock:
            self._finish()

    def _finish(self) -> None:
        if self._open:
            self._open = False
            self._close()

    @property
    def is_ready(self) -> bool:
        return bool(self._pending)

    def decode(self) -> list[StreamEvent]:
        time.sleep(0.01)
        with self._lock:
            out, self._pending = self._pending, []
        return out

    @property
    def result(self) -> str:
        return ""

    @property
    def is_endpoint(self) -> bool:
        return not self._open


class ScriptedRecognizer:
    name = "scripted"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.streams: list[EnergyStream] = []

    def transcribe(self, audio: Audio, *, itn: bool = False, hotwords: str = "") -> Transcript:
        return Transcript(self.texts[0] if self.texts else "")

    def create_stream(self) -> EnergyStream:
        stream = EnergyStream(list(self.texts))
        self.streams.append(stream)
        return stream


class ToneSynthesizer:
    """0.12 s of 440 Hz tone per character, produced in ``delay`` seconds per segment."""

    name = "tone"
    sample_rate = 24000
    model_version = "test"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.cancelled_after = 0

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("tone", "zh")]

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None) -> Audio:
        if voice not in (None, "tone"):
            raise UnknownVoiceError(f"unknown voice {voice}")
        if self.delay:
            time.sleep(self.delay)
        n = int(0.12 * len(text) * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        return Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), self.sample_rate)

    async def stream(
        self,
        text: str,
        style: Style | None = None,
        voice: str | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[Audio]:
        loop = asyncio.get_running_loop()
        audio = await loop.run_in_executor(executor, self.synthesize, text, style, voice)
        yield audio


def speech_like(seconds: float, rate: int = RATE, amp: float = 0.2) -> np.ndarray:
    """A loud tone burst standing in for speech."""
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)
