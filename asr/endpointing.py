"""Voice-activity endpointing with Silero VAD or webrtcvad (no recognition model involved).

The :class:`Endpointer` consumes 16 kHz float samples in chunks of any size, classifies
fixed frames (Silero: 32 ms windows; webrtcvad: 10/20/30 ms) and runs a small state machine:

* **idle → speech** when ≥ 80 % of the frames in the last ``min_speech_ms`` are voiced
  (and the newest is). The utterance then starts ``pre_roll_ms`` before that window, so
  soft onsets are not clipped.
* **speech → idle** after ``min_silence_ms`` of consecutive unvoiced frames (the hangover),
  or when the utterance reaches ``max_utterance_s`` (a forced endpoint).

It emits three internal events: :class:`Onset`, :class:`UtteranceAudio` (samples that belong to
the open utterance, pre-roll included) and :class:`Offset`. Times are seconds of stream audio.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tingshuo.asr.base import ASR_SAMPLE_RATE
from tingshuo.asr.config import EndpointConfig
from tingshuo.asr.silero_vad import WINDOW as SILERO_WINDOW
from tingshuo.asr.silero_vad import SileroVad
from tingshuo.core.audio import float_to_pcm16

SILERO_HYSTERESIS = 0.15  # Silero's neg_threshold = threshold - 0.15
ONSET_VOICED_FRACTION = 0.8  # share of voiced frames in the onset window that opens speech


class EndpointConfigError(ValueError):
    """An endpointing setting webrtcvad cannot work with."""


@dataclass(frozen=True)
class Onset:
    """An utterance opened; it starts at ``start`` s (pre-roll included)."""

    start: float


@dataclass(frozen=True)
class UtteranceAudio:
    """Samples (16 kHz float32) appended to the open utterance."""

    samples: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Offset:
    """The utterance closed at ``time`` s; the last voiced frame ended at ``speech_end`` s."""

    time: float
    speech_end: float
    forced: bool = False  # True when max_utterance_s cut it


EndpointEvent = Onset | UtteranceAudio | Offset


# Words after which a Mandarin speaker is likely to go on (a pause mid-sentence, not its end)
CONTINUATION_ENDINGS = (
    "因为", "所以", "但是", "可是", "不过", "然后", "而且", "还有", "或者", "如果", "要是",
    "就是", "那个", "这个", "比如", "的话", "以及", "并且", "另外", "我想", "我要", "请问",
    "和", "跟", "与", "或", "及", "在", "把", "被", "给", "对", "从", "向", "往", "让",
    "嗯", "呃", "额", "那", "就", "还", "也", "都", "又", "再", "是",
)  # fmt: skip
CONTINUATION_MARKS = "，,、：:；;—…-"


def sentence_looks_complete(text: str) -> bool:
    """Whether a transcript reads as a finished turn (no trailing comma or continuation word).

    A cheap text cue for the adaptive hangover: it errs towards "complete", the same as a
    fixed hangover would, and only holds the utterance open when the words say more is coming.
    """
    text = text.strip().rstrip(" 。.!！?？")
    if not text:
        return False
    if text[-1] in CONTINUATION_MARKS:
        return False
    return not text.endswith(CONTINUATION_ENDINGS)


class Endpointer:
    """webrtcvad-based utterance detector over a 16 kHz stream."""

    def __init__(self, cfg: EndpointConfig, sample_rate: int = ASR_SAMPLE_RATE) -> None:
        self.cfg = cfg
        self.sample_rate = sample_rate
        self._silero: SileroVad | None = None
        self._last_voiced = False  # Silero hysteresis: the previous frame was voiced
        self._webrtc: Any = None
        if cfg.vad == "silero":
            if sample_rate != ASR_SAMPLE_RATE:
                raise EndpointConfigError(f"Silero VAD runs at {ASR_SAMPLE_RATE} Hz here")
            if not 0.15 < cfg.speech_threshold < 1:
                raise EndpointConfigError(
                    f"speech_threshold must be in (0.15, 1), got {cfg.speech_threshold}"
                )
            self._silero = SileroVad()
            self._frame = SILERO_WINDOW
        elif cfg.vad == "webrtc":
            if cfg.frame_ms not in (10, 20, 30):
                raise EndpointConfigError(f"frame_ms must be 10, 20 or 30, got {cfg.frame_ms}")
            if not 0 <= cfg.aggressiveness <= 3:
                raise EndpointConfigError(f"aggressiveness must be 0..3, got {cfg.aggressiveness}")
            if sample_rate not in (8000, 16000, 32000, 48000):
                raise EndpointConfigError(f"webrtcvad cannot run at {sample_rate} Hz")
            import webrtcvad

            self._webrtc = webrtcvad.Vad(cfg.aggressiveness)
            self._frame = sample_rate * cfg.frame_ms // 1000
        else:
            raise EndpointConfigError(f"vad must be silero or webrtc, got {cfg.vad!r}")
        frame_ms = 1000 * self._frame / sample_rate
        self._onset_frames = max(1, round(cfg.min_speech_ms / frame_ms))
        self._preroll_frames = round(cfg.pre_roll_ms / frame_ms)
        self._hangover_frames = max(1, round(cfg.min_silence_ms / frame_ms))
        self._max_frames = max(1, int(cfg.max_utterance_s * 1000 / frame_ms))
        self.reset()

    @property
    def frame_samples(self) -> int:
        """Samples per classified frame."""
        return self._frame

    def _classify(self, data: np.ndarray, n_frames: int) -> list[bool]:
        """Voiced / unvoiced for each of the first ``n_frames`` frames of ``data``."""
        if not n_frames:
            return []
        if self._silero is not None:
            probs = self._silero.probabilities(data[: n_frames * self._frame])
            voiced = []
            threshold = self.cfg.speech_threshold
            for p in probs:  # hysteresis: after a voiced frame, threshold - 0.15 suffices
                low = threshold - SILERO_HYSTERESIS if self._last_voiced else threshold
                self._last_voiced = bool(p >= low)
                voiced.append(self._last_voiced)
            return voiced
        return [
            self._webrtc.is_speech(
                float_to_pcm16(data[k * self._frame : (k + 1) * self._frame]), self.sample_rate
            )
            for k in range(n_frames)
        ]

    def reset(self) -> None:
        """Forget all audio and state; stream time restarts at 0."""
        self._pending = np.zeros(0, dtype=np.float32)
        self._last_voiced = False
        if self._silero is not None:
            self._silero.reset()
        self._history: collections.deque[tuple[np.ndarray, bool]] = collections.deque(
            maxlen=self._onset_frames + self._preroll_frames
        )
        self._frames_seen = 0
        self._in_speech = False
        self._utt_frames = 0
        self._silence_run = 0
        self._speech_end = 0.0
        self._hangover_now = self._hangover_frames  # the open utterance's hangover

    def set_hangover_ms(self, ms: int) -> list[EndpointEvent]:
        """Change the open utterance's hangover (until it closes); closes it at once when its
        trailing silence is already that long. Returns the events (an ``Offset`` or none)."""
        if not self._in_speech or ms <= 0:
            return []
        frame_ms = 1000 * self._frame / self.sample_rate
        self._hangover_now = max(1, round(ms / frame_ms))
        if self._silence_run >= self._hangover_now:
            return [self._close(False)]
        return []

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is open."""
        return self._in_speech

    @property
    def trailing_silence(self) -> int:
        """Samples of unvoiced frames at the end of the open utterance (0 when none is open)."""
        return self._silence_run * self._frame if self._in_speech else 0

    @property
    def time(self) -> float:
        """Seconds of audio classified so far."""
        return self._frames_seen * self._frame / self.sample_rate

    def feed(self, samples: np.ndarray) -> list[EndpointEvent]:
        """Classify the new samples; return the events they cause, in order."""
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        n_frames = len(data) // self._frame
        self._pending = data[n_frames * self._frame :]
        events: list[EndpointEvent] = []
        voiced_run: list[np.ndarray] = []  # frames for one UtteranceAudio per call
        for k, voiced in enumerate(self._classify(data, n_frames)):
            frame = data[k * self._frame : (k + 1) * self._frame]
            self._frames_seen += 1
            if not self._in_speech:
                self._history.append((frame, voiced))
                if self._onset_due():
                    events.extend(self._open())
                continue
            voiced_run.append(frame)
            self._utt_frames += 1
            if voiced:
                self._silence_run = 0
                self._speech_end = self.time
                self._hangover_now = self._hangover_frames  # speech went on: a decoded
                # text's early/late hangover no longer applies
            else:
                self._silence_run += 1
            forced = self._utt_frames >= self._max_frames
            if self._silence_run >= self._hangover_now or forced:
                events.append(UtteranceAudio(np.concatenate(voiced_run)))
                voiced_run = []
                events.append(self._close(forced))
        if voiced_run:
            events.append(UtteranceAudio(np.concatenate(voiced_run)))
        return events

    def flush(self) -> list[EndpointEvent]:
        """End of input: close an open utterance (the partial frame left over is included)."""
        events: list[EndpointEvent] = []
        if self._in_speech:
            if len(self._pending):
                events.append(UtteranceAudio(self._pending.copy()))
            events.append(self._close(False))
        self._pending = np.zeros(0, dtype=np.float32)
        return events

    def _onset_due(self) -> bool:
        window = list(self._history)[-self._onset_frames :]
        if len(window) < self._onset_frames:
            return False
        voiced = sum(1 for _, v in window if v)
        return voiced >= ONSET_VOICED_FRACTION * self._onset_frames and window[-1][1]

    def _open(self) -> list[EndpointEvent]:
        frames = [f for f, _ in self._history]
        start = (self._frames_seen - len(frames)) * self._frame / self.sample_rate
        self._history.clear()
        self._in_speech = True
        self._utt_frames = len(frames)
        self._silence_run = 0
        self._speech_end = self.time
        return [Onset(start), UtteranceAudio(np.concatenate(frames))]

    def _close(self, forced: bool) -> Offset:
        self._in_speech = False
        self._utt_frames = 0
        self._silence_run = 0
        self._hangover_now = self._hangover_frames
        return Offset(self.time, self._speech_end, forced)
