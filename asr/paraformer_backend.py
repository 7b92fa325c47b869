"""The FunASR recognizer: offline (Seaco)Paraformer, ParaformerStreaming, fsmn-vad, ct-punc.

Offline ``transcribe``: fsmn-vad (when configured) cuts the audio into speech segments, the
offline model (SeacoParaformer takes hotwords) recognises each, ct-punc (when configured)
punctuates the joined text. Streaming: webrtcvad endpointing (shared with Whisper); inside an
utterance ParaformerStreaming is fed ``chunk_size[1]`` × 60 ms chunks with its encoder/decoder
look-back cache for partials; the final result comes from the offline model when there is one
(FunASR's "2pass" scheme), else from the streaming model's last chunk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tingshuo.asr.base import ASR_SAMPLE_RATE, Segment, Transcript
from tingshuo.asr.config import ASRConfig
from tingshuo.asr.funasr_models import (
    clean_text,
    load_automodel,
    load_punctuator,
    quiet_stdout,
    resolve_model_dir,
)
from tingshuo.asr.streaming import VadRecognizerStream
from tingshuo.asr.textproc import finish_transcript
from tingshuo.core.audio import Audio
from tingshuo.core.errors import ModelNotFoundError

log = logging.getLogger(__name__)

CHUNK_UNIT_SAMPLES = 960  # chunk_size counts 60 ms units (6 frames of 10 ms at 16 kHz)
MIN_SEGMENT_S = 0.05  # VAD segments shorter than this are skipped


class ParaformerRecognizer:
    """FunASR Paraformer recognizer on local model directories."""

    name = "paraformer"

    def __init__(self, config: ASRConfig) -> None:
        pc = config.paraformer
        if not (pc.model or pc.streaming_model):
            raise ModelNotFoundError(
                "paraformer backend: no model configured; set asr.paraformer.model (offline, "
                "e.g. a paraformer-zh directory) and/or asr.paraformer.streaming_model"
            )
        self.config = config
        self._lock = threading.Lock()  # AutoModel keeps per-call state on the model object
        self._offline = self._load(pc.model, "model")
        self._streaming = self._load(pc.streaming_model, "streaming_model")
        self._vad = self._load(pc.vad_model, "vad_model")
        self._punctuate: Callable[[str], str] | None = (
            load_punctuator(pc) if pc.punc_model else None
        )

    def _load(self, spec: str, field: str) -> Any:
        if not spec:
            return None
        return load_automodel(resolve_model_dir(spec, field), self.config.paraformer.ncpu)

    # ---- offline -------------------------------------------------------------------------

    def _generate(self, model: Any, samples: np.ndarray, **kwargs: Any) -> list[dict]:
        with self._lock, quiet_stdout():
            return list(model.generate(input=samples, **kwargs))

    def vad_segments(self, samples: np.ndarray) -> list[tuple[float, float]]:
        """Speech regions (seconds) from fsmn-vad; the whole audio when no VAD is configured."""
        duration = len(samples) / ASR_SAMPLE_RATE
        if self._vad is None:
            return [(0.0, duration)]
        result = self._generate(self._vad, samples)
        spans = result[0].get("value", []) if result else []
        return [(b / 1000.0, min(e / 1000.0, duration)) for b, e in spans if e > b]

    def recognize_segment(self, samples: np.ndarray, hotwords: str = "") -> Segment | None:
        """Recognise one speech segment (times relative to it); None for empty output."""
        duration = len(samples) / ASR_SAMPLE_RATE
        if self._offline is not None:
            words = " ".join(w for w in (self.config.paraformer.hotwords, hotwords) if w)
            kwargs = {"hotword": words} if words else {}
            result = self._generate(self._offline, samples, **kwargs)
            if not result:
                return None
            text = clean_text(result[0].get("text", ""))
            stamps = result[0].get("timestamp") or []
            start, end = (
                (stamps[0][0] / 1000.0, stamps[-1][1] / 1000.0) if stamps else (0.0, duration)
            )
        else:
            text = self._stream_decode(samples, {}, final=True)
            start, end = 0.0, duration
        return Segment(start, min(end, duration), text) if text else None

    def decode_samples(self, samples: np.ndarray, hotwords: str = "") -> Transcript:
        """16 kHz samples → transcript without punctuation/ITN (segment times absolute)."""
        segments = []
        for begin, end in self.vad_segments(samples):
            if end - begin < MIN_SEGMENT_S:
                continue
            chunk = samples[int(begin * ASR_SAMPLE_RATE) : int(end * ASR_SAMPLE_RATE)]
            seg = self.recognize_segment(chunk, hotwords)
            if seg is not None:
                segments.append(Segment(seg.start + begin, seg.end + begin, seg.text))
        return Transcript("".join(s.text for s in segments), tuple(segments))

    def transcribe(self, audio: Audio, *, itn: bool = False, hotwords: str = "") -> Transcript:
        """Recognise a whole recording (any sample rate)."""
        samples = audio.resample(ASR_SAMPLE_RATE).samples
        raw = self.decode_samples(samples, hotwords)
        return finish_transcript(raw, itn=itn or self.config.itn, punctuate=self._punctuate)

    # ---- streaming -----------------------------------------------------------------------

    @property
    def chunk_samples(self) -> int:
        """Samples per streaming chunk (``chunk_size[1]`` × 60 ms)."""
        return self.config.paraformer.chunk_size[1] * CHUNK_UNIT_SAMPLES

    def _stream_decode(self, samples: np.ndarray, cache: dict, final: bool) -> str:
        """Feed ``samples`` in chunk-size pieces to ParaformerStreaming; the text they add."""
        pc = self.config.paraformer
        step = self.chunk_samples
        pieces = []
        n_chunks = max(1, -(-len(samples) // step)) if final else len(samples) // step
        for k in range(n_chunks):
            chunk = samples[k * step : (k + 1) * step]
            result = self._generate(
                self._streaming,
                chunk,
                cache=cache,
                is_final=final and k == n_chunks - 1,
                chunk_size=list(pc.chunk_size),
                encoder_chunk_look_back=pc.encoder_chunk_look_back,
                decoder_chunk_look_back=pc.decoder_chunk_look_back,
            )
            if result:
                pieces.append(result[0].get("text", ""))
        return clean_text("".join(pieces))

    def create_stream(
        self, *, itn: bool | None = None, hotwords: str = "", profile: str = "dialogue"
    ) -> VadRecognizerStream:
        """A VAD-endpointed stream: streaming partials, offline ("2pass") finals.

        ``itn`` (default ``asr.itn``) and ``hotwords`` apply to this stream's final results;
        ``profile`` picks the endpointing (``asr.endpoint`` or ``asr.transcription_endpoint``).
        """
        use_itn = self.config.itn if itn is None else itn
        return VadRecognizerStream(
            lambda: _ParaformerUtterance(self, hotwords),
            self.config.endpoint_for(profile),
            postprocess=lambda t: finish_transcript(t, itn=use_itn, punctuate=self._punctuate),
        )


class _ParaformerUtterance:
    """One utterance: a ParaformerStreaming cache advanced chunk by chunk."""

    def __init__(self, rec: ParaformerRecognizer, hotwords: str = "") -> None:
        self._rec = rec
        self._hotwords = hotwords
        self._cache: dict = {}
        self._fed = 0
        self._text = ""

    def partial_due(self, n_samples: int, trailing_silence: int = 0) -> bool:
        if self._rec._streaming is None:  # offline only: re-decode like Whisper
            return n_samples - self._fed >= 2 * self._rec.chunk_samples
        return n_samples - self._fed >= self._rec.chunk_samples

    def partial(self, samples: np.ndarray) -> str:
        rec = self._rec
        if rec._streaming is None:
            self._fed = len(samples)
            return rec.decode_samples(samples).text
        step = rec.chunk_samples
        usable = (len(samples) - self._fed) // step * step
        self._text += rec._stream_decode(
            samples[self._fed : self._fed + usable], self._cache, False
        )
        self._fed += usable
        return self._text

    def final(self, samples: np.ndarray, speech_samples: int | None = None) -> Transcript:
        rec = self._rec
        if rec._offline is not None:
            return rec.decode_samples(samples, self._hotwords)
        self._text += rec._stream_decode(samples[self._fed :], self._cache, True)
        self._fed = len(samples)
        duration = len(samples) / ASR_SAMPLE_RATE
        segments = (Segment(0.0, duration, self._text),) if self._text else ()
        return Transcript(self._text, segments)
