"""The streaming recognizer: input resampling + webrtcvad endpointing + a backend's decoder.

``VadRecognizerStream`` implements :class:`asr.base.RecognizerStream` for every backend. The
backend supplies a factory of :class:`UtteranceDecoder` objects, one per utterance, which say
when a partial result is due and turn utterance audio into partial text and a final
:class:`~asr.base.Transcript` (Whisper re-decodes the open utterance at a limited rate;
streaming Paraformer advances its chunk cache).

``accept_waveform`` only buffers, resamples (soxr, streaming, so frame edges are seamless) and
runs the VAD: cheap enough for an event loop. ``decode`` runs the model (call it in a worker).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from tingshuo.asr.base import (
    ASR_SAMPLE_RATE,
    FinalResult,
    PartialResult,
    Segment,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
    Transcript,
)
from tingshuo.asr.config import EndpointConfig
from tingshuo.asr.endpointing import Endpointer, Offset, Onset, UtteranceAudio
from tingshuo.core.audio import SUPPORTED_INPUT_RATES, Audio, AudioFormatError, pcm16_to_float


class UtteranceDecoder(Protocol):
    """Decoding state for one utterance, created by a backend for a stream."""

    def partial_due(self, n_samples: int, trailing_silence: int = 0) -> bool:
        """Whether a partial is worth computing now that the utterance has ``n_samples``.

        ``trailing_silence``: how many of those samples are the unvoiced run at its end
        (speech may be over; a decoder can decode early so the final reuses the work).
        """
        ...

    def partial(self, samples: np.ndarray) -> str:
        """Provisional text for the utterance so far (16 kHz float32)."""
        ...

    def final(self, samples: np.ndarray, speech_samples: int | None = None) -> Transcript:
        """The final transcript of the whole utterance (times relative to its start).

        ``speech_samples``: where the last voiced frame ends (the rest is hangover silence).
        """
        ...


@dataclass
class _Utterance:
    start: float
    decoder: UtteranceDecoder
    chunks: list[np.ndarray] = field(default_factory=list)
    n_samples: int = 0
    end: float | None = None  # speech end once closed

    def audio(self) -> np.ndarray:
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0] if self.chunks else np.zeros(0, dtype=np.float32)


def to_float_samples(samples: np.ndarray | bytes | bytearray | memoryview) -> np.ndarray:
    """PCM16 bytes, int16 arrays or float arrays → float32 mono in [-1, 1]."""
    if isinstance(samples, bytes | bytearray | memoryview):
        return pcm16_to_float(bytes(samples))
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise AudioFormatError(f"expected mono 1-D samples, got shape {arr.shape}")
    if arr.dtype == np.int16:
        return arr.astype(np.float32) / 32768.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise AudioFormatError(f"samples must be float or int16, got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise AudioFormatError("samples contain NaN or infinity")
    return arr


class VadRecognizerStream:
    """A :class:`asr.base.RecognizerStream` driven by webrtcvad endpoints."""

    def __init__(
        self,
        new_decoder: Callable[[], UtteranceDecoder],
        endpoint: EndpointConfig,
        postprocess: Callable[[Transcript], Transcript] | None = None,
    ) -> None:
        self._new_decoder = new_decoder
        self._postprocess = postprocess
        self._endpointer = Endpointer(endpoint)
        self._endpoint_cfg = endpoint
        self._lock = threading.Lock()
        self._rate: int | None = None
        self._resampler: Any = None
        self._open: _Utterance | None = None
        self._closed: collections.deque[_Utterance] = collections.deque()
        self._events: list[StreamEvent] = []
        self._partial_text = ""
        self._endpoint = False
        self.reset()

    # ---- input ---------------------------------------------------------------------------

    def accept_waveform(self, sample_rate: int, samples: np.ndarray | bytes) -> list[StreamEvent]:
        """Append audio (PCM16 bytes or float/int16 samples) at a supported rate."""
        if sample_rate not in SUPPORTED_INPUT_RATES:
            raise AudioFormatError(
                f"unsupported sample rate {sample_rate}; use one of {SUPPORTED_INPUT_RATES}"
            )
        data = to_float_samples(samples)
        with self._lock:
            return self._feed(self._resample(sample_rate, data, last=False))

    def input_finished(self) -> None:
        """No more audio: drain the resampler and close any open utterance."""
        with self._lock:
            tail = self._resample(self._rate, np.zeros(0, np.float32), last=True)
            self._rate, self._resampler = None, None  # later audio starts a fresh resampler
            self._events.extend(self._feed(tail))
            self._events.extend(self._handle(self._endpointer.flush()))

    def _resample(self, rate: int | None, data: np.ndarray, last: bool) -> np.ndarray:
        if rate is None:
            return data
        if rate != self._rate:
            # rate changed mid-stream: drain the old resampler first
            drained = self._resample(self._rate, np.zeros(0, np.float32), last=True)
            self._rate, self._resampler = rate, None
            if rate != ASR_SAMPLE_RATE:
                import soxr

                self._resampler = soxr.ResampleStream(
                    rate, ASR_SAMPLE_RATE, 1, dtype="float32", quality="HQ"
                )
            return np.concatenate([drained, self._resample(rate, data, last)])
        if self._resampler is None:
            return data
        out = self._resampler.resample_chunk(data, last=last)
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def _feed(self, samples16k: np.ndarray) -> list[StreamEvent]:
        if not len(samples16k):
            return []
        return self._handle(self._endpointer.feed(samples16k))

    def _handle(self, events: list) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for ev in events:
            if isinstance(ev, Onset):
                self._open = _Utterance(ev.start, self._new_decoder())
                self._partial_text = ""
                self._endpoint = False
                out.append(SpeechStarted(ev.start))
            elif isinstance(ev, UtteranceAudio) and self._open is not None:
                self._open.chunks.append(ev.samples)
                self._open.n_samples += len(ev.samples)
            elif isinstance(ev, Offset) and self._open is not None:
                self._open.end = ev.speech_end
                self._closed.append(self._open)
                self._open = None
                self._endpoint = True
                out.append(SpeechStopped(ev.time))
        return out

    # ---- decoding ------------------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        """Whether ``decode`` has work: a closed utterance, a due partial or queued events."""
        with self._lock:
            if self._closed or self._events:
                return True
            utt = self._open
            return utt is not None and utt.decoder.partial_due(
                utt.n_samples, self._endpointer.trailing_silence
            )

    def _prefetch_span(self) -> tuple[_Utterance, int] | None:
        """The open utterance and how much of it the next decode prefetches (lock held)."""
        utt = self._open
        span_of = getattr(utt.decoder, "prefetch_span", None) if utt is not None else None
        if utt is None or span_of is None:
            return None
        span = span_of(utt.n_samples, self._endpointer.trailing_silence)
        return None if span is None else (utt, span)

    @property
    def prefetch_due(self) -> bool:
        """Whether the next :meth:`decode` is a prefetch of a likely final (speech went quiet
        long enough): as urgent as a final, unlike a partial."""
        with self._lock:
            return self._prefetch_span() is not None

    def prefetch_audio(self) -> tuple[float, float, np.ndarray] | None:
        """What the next :meth:`decode` will decode as a likely final, if it will: (utterance
        start, speech end, 16 kHz samples), stream times in seconds. Lets a caller start
        audio-only work on the utterance (e.g. prosody) alongside that decode."""
        with self._lock:
            due = self._prefetch_span()
            if due is None:
                return None
            utt, span = due
            trailing = self._endpointer.trailing_silence
            speech_end = utt.start + (utt.n_samples - trailing) / ASR_SAMPLE_RATE
            return utt.start, speech_end, utt.audio()[:span].copy()

    def decode(self) -> list[StreamEvent]:
        """Run the model: finals for closed utterances, then a partial for the open one."""
        with self._lock:
            events, self._events = self._events, []
            closed = list(self._closed)
            self._closed.clear()
            utt = self._open
            partial_audio = None
            silence = self._endpointer.trailing_silence
            if utt is not None and utt.decoder.partial_due(utt.n_samples, silence):
                partial_audio = utt.audio()
        events = list(events)
        for done in closed:
            events.append(self._finalise(done))
        if utt is not None and partial_audio is not None:
            text = utt.decoder.partial(partial_audio)
            t = utt.start + len(partial_audio) / ASR_SAMPLE_RATE
            with self._lock:
                changed = text != self._partial_text
                ended: list[StreamEvent] = []
                if self._open is utt:
                    self._partial_text = text
                    ended = self._adapt_hangover(utt)
            if changed:  # an unchanged (or still empty) partial is not news
                events.append(PartialResult(text, t))
            if ended:  # the decoded text ended the utterance early: its final is ready now
                events.extend(ended)
                with self._lock:
                    closed = list(self._closed)
                    self._closed.clear()
                events.extend(self._finalise(done) for done in closed)
        return events

    def _adapt_hangover(self, utt: _Utterance) -> list[StreamEvent]:
        """After a decode of the open utterance: a finished-looking sentence may end it after
        ``early_silence_ms``, one that trails off waits ``incomplete_silence_ms`` (lock held)."""
        looks_complete = getattr(utt.decoder, "looks_complete", None)
        covered = getattr(utt.decoder, "prefetched_voiced_end", -1)
        if looks_complete is None or covered != utt.n_samples - self._endpointer.trailing_silence:
            return []  # no decode of all the speech so far (or the user spoke on meanwhile)
        cfg = self._endpoint_cfg
        ms = cfg.early_silence_ms if looks_complete() else cfg.incomplete_silence_ms
        return self._handle(self._endpointer.set_hangover_ms(ms))

    def _finalise(self, utt: _Utterance) -> FinalResult:
        audio = utt.audio()
        speech = None if utt.end is None else int(round((utt.end - utt.start) * ASR_SAMPLE_RATE))
        transcript = utt.decoder.final(audio, speech)
        if self._postprocess is not None:
            transcript = self._postprocess(transcript)
        shifted = tuple(
            Segment(s.start + utt.start, s.end + utt.start, s.text) for s in transcript.segments
        )
        transcript = replace(transcript, segments=shifted)
        end = utt.end if utt.end is not None else utt.start + len(audio) / ASR_SAMPLE_RATE
        return FinalResult(transcript, utt.start, end, Audio(audio, ASR_SAMPLE_RATE))

    # ---- state ---------------------------------------------------------------------------

    @property
    def result(self) -> str:
        """Latest partial text of the open utterance (empty when none)."""
        with self._lock:
            return self._partial_text if self._open is not None else ""

    @property
    def is_endpoint(self) -> bool:
        """Whether an utterance ended since the last onset or reset."""
        with self._lock:
            return self._endpoint

    def reset(self) -> None:
        """Drop buffered audio, open and pending utterances; stream time restarts at 0."""
        with self._lock:
            self._endpointer.reset()
            self._rate = None
            self._resampler = None
            self._open = None
            self._closed = collections.deque()
            self._events = []
            self._partial_text = ""
            self._endpoint = False
