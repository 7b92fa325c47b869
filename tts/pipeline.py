"""The shared synthesis pipeline: SSML → normalised segments → audio, batch or streamed.

Every backend that renders emotion by prosody subclasses :class:`SegmentSynthesizer` and
implements only :meth:`SegmentSynthesizer.render_segment` (one short normalised text →
float32 samples). The base class does the rest, identically for every backend:

1. :mod:`tts.ssml` turns text or markup into styled text pieces and breaks;
2. :func:`tts.textnorm.normalize` spells out numbers etc.; :func:`tts.segment.split_text`
   cuts long text (the first segment shorter, for fast first audio);
3. each segment is rendered, then :mod:`tts.prosody` applies the emotion's pitch level,
   range and energy; pauses follow the punctuation, scaled by the emotion;
4. :meth:`synthesize` joins the segments; :meth:`stream` yields each as soon as it is
   ready (model work in an executor, one segment computed ahead).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from tingshuo.core.audio import Audio
from tingshuo.tts.base import Style, UnknownVoiceError, VoiceInfo
from tingshuo.tts.prosody import CUES, ProsodyTarget, render, target_for, without_cues
from tingshuo.tts.segment import CLAUSE_END, SENTENCE_END, split_text
from tingshuo.tts.ssml import BreakPiece, TextPiece, parse
from tingshuo.tts.textnorm import normalize

__all__ = ["PlannedSegment", "SegmentSynthesizer", "plan_segments"]

_FIRST_CLAUSE = re.compile(
    rf"[^{re.escape(CLAUSE_END + SENTENCE_END)}]*[{re.escape(CLAUSE_END + SENTENCE_END)}]+"
)


@dataclass(frozen=True)
class PlannedSegment:
    """One unit of synthesis: normalised text, its style and the silence around it."""

    text: str
    style: Style
    pause_before_ms: int = 0
    pause_after_ms: int = 0


def _pause_for(text: str, sentence_ms: int, clause_ms: int) -> int:
    tail = text.rstrip("”’」』）)》】\"' ")
    if not tail:
        return 0
    if tail[-1] in SENTENCE_END:
        return sentence_ms
    if tail[-1] in CLAUSE_END:
        return clause_ms
    return 0


def _first_cut(text: str, first_chars: int) -> tuple[str, str]:
    """Split off a short first segment: the first clause if it is not much longer than
    ``first_chars``, else the words that fit in ``first_chars``."""
    m = _FIRST_CLAUSE.match(text)
    if m and len(m.group()) <= first_chars * 3 // 2:
        return m.group(), text[m.end() :]
    first = split_text(text, first_chars)[0]
    return first, text[text.find(first) + len(first) :]


def plan_segments(
    text: str,
    style: Style | None = None,
    max_chars: int = 60,
    first_chars: int | None = None,
    sentence_pause_ms: int = 250,
    clause_pause_ms: int = 120,
    emotion_pauses: bool = True,
) -> list[PlannedSegment]:
    """Text or SSML → segments to synthesize, in order (raises ``SSMLError`` on bad markup).

    ``first_chars`` (when smaller than ``max_chars``) bounds the very first segment so a
    stream can start sooner; the bound then doubles with every segment up to ``max_chars``
    (e.g. 6, 12, 24, 48, 60 characters), cutting at clauses, else between words, so each
    segment renders in about the time the audio before it plays. Break elements lengthen
    the pause after the segment before them.
    ``emotion_pauses``: scale punctuation pauses by the emotion's pause factor.
    """
    segments: list[PlannedSegment] = []
    leading_ms = 0
    limit = first_chars if first_chars and first_chars < max_chars else max_chars
    for piece in parse(text, style):
        if isinstance(piece, BreakPiece):
            if segments:
                last = segments[-1]
                segments[-1] = PlannedSegment(
                    last.text, last.style, last.pause_before_ms, last.pause_after_ms + piece.ms
                )
            else:
                leading_ms += piece.ms
            continue
        assert isinstance(piece, TextPiece)
        parts: list[str] = []
        for part in split_text(normalize(piece.text), max_chars):
            while limit < max_chars and len(part) > limit:  # still growing: cut it short
                head, part = _first_cut(part, limit)
                parts.append(head)
                limit = min(max_chars, 2 * limit)
            if part.strip():
                parts.append(part)
                limit = min(max_chars, 2 * limit)
        for part in parts:
            if not any(ch.isalnum() for ch in part):
                continue  # punctuation only: nothing to say
            factor = (
                target_for(piece.style.emotion, piece.style.intensity).pause
                if emotion_pauses
                else 1.0
            )
            pause = int(round(_pause_for(part, sentence_pause_ms, clause_pause_ms) * factor))
            before = leading_ms if not segments else 0
            segments.append(PlannedSegment(part, piece.style, before, pause))
    return segments


class SegmentSynthesizer:
    """Base for segment-wise synthesizers (see module docstring). Thread-safe if
    :meth:`render_segment` is."""

    name: str = ""
    sample_rate: int = 24000
    model_version: str = ""
    renders_rate: bool = False  # render_segment applies the explicit style rate itself
    # render_segment applies the emotion's rate too (the model's own timing instead of a
    # PSOLA stretch); only with renders_rate
    renders_emotion_rate: bool = False
    # factor on every utterance's f0 excursions (a voice calibration, applied under the
    # emotion's own pitch range); 1.0 leaves the model's intonation as it is
    tone_range: float = 1.0

    def __init__(
        self,
        default_voice: str,
        max_segment_chars: int = 60,
        first_segment_chars: int = 24,
        sentence_pause_ms: int = 250,
        clause_pause_ms: int = 120,
        emotion_rendering: bool = True,
        parallel_segments: int = 2,
        emotion_cues: frozenset[str] = frozenset(CUES),
    ) -> None:
        """``emotion_cues``: which of the emotion table's cues (:data:`tts.prosody.CUES`)
        are rendered; all by default (fewer: to measure each with and without)."""
        self.default_voice = default_voice
        self.max_segment_chars = max_segment_chars
        self.first_segment_chars = first_segment_chars
        self.sentence_pause_ms = sentence_pause_ms
        self.clause_pause_ms = clause_pause_ms
        self.emotion_rendering = emotion_rendering
        self.parallel_segments = max(1, parallel_segments)
        self.emotion_cues = frozenset(emotion_cues)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    # -- to implement -------------------------------------------------------------------
    def voices(self) -> list[VoiceInfo]:
        """Available voices, default first."""
        raise NotImplementedError

    def render_segment(self, text: str, voice: str, target: ProsodyTarget) -> np.ndarray:
        """Samples at :attr:`sample_rate` for one normalised segment (no pauses)."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def resolve_voice(self, voice: str | None) -> str:
        """``voice`` or the default; :class:`UnknownVoiceError` listing the voices if unknown."""
        name = voice or self.default_voice
        names = [v.name for v in self.voices()]
        if name not in names:
            raise UnknownVoiceError(
                f"unknown voice {name!r} for backend {self.name!r}; available: {', '.join(names)}"
            )
        return name

    def plan(
        self, text: str, style: Style | None = None, streaming: bool = False
    ) -> list[PlannedSegment]:
        """The segments :meth:`stream` (``streaming``) or :meth:`synthesize` will render.

        Only a stream splits off a short first segment (fast first audio); whole-text
        synthesis keeps clauses together, which is cheaper (fewer model calls) and gives
        the model the whole sentence's context.
        """
        return plan_segments(
            text,
            style,
            self.max_segment_chars,
            self.first_segment_chars if streaming else None,
            self.sentence_pause_ms,
            self.clause_pause_ms,
            self.emotion_rendering and "pause" in self.emotion_cues,
        )

    def segment_audio(self, segment: PlannedSegment, voice: str) -> Audio:
        """Render one planned segment with its prosody and surrounding silence."""
        st = segment.style
        if self.emotion_rendering:
            target = target_for(st.emotion, st.intensity, st.rate, st.pitch, st.volume)
        else:
            target = target_for(st.emotion, 0.0, st.rate, st.pitch, st.volume)
        if self.emotion_cues != frozenset(CUES):
            target = without_cues(target, self.emotion_cues)
        if self.tone_range != 1.0:
            target = replace(target, pitch_range=target.pitch_range * self.tone_range)
        samples = self.render_segment(segment.text, voice, target)
        if self.renders_rate and self.renders_emotion_rate:
            target = replace(target, emotion_rate=1.0)  # the model already spoke at that rate
        samples = render(samples, self.sample_rate, target, style_rate_done=self.renders_rate)
        sr = self.sample_rate
        before = np.zeros(sr * segment.pause_before_ms // 1000, np.float32)
        after = np.zeros(sr * segment.pause_after_ms // 1000, np.float32)
        return Audio(np.concatenate([before, samples, after]).astype(np.float32), sr)

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None) -> Audio:
        """Text (plain or SSML) to audio at :attr:`sample_rate`. Blocking.

        Empty text gives an empty :class:`Audio`.
        """
        name = self.resolve_voice(voice)
        segments = self.plan(text, style)
        if not segments:
            return Audio(np.zeros(0, np.float32), self.sample_rate)
        if len(segments) == 1 or self.parallel_segments == 1:
            return Audio.concat([self.segment_audio(s, name) for s in segments])
        pool = self._segment_pool()
        return Audio.concat(list(pool.map(lambda s: self.segment_audio(s, name), segments)))

    def _segment_pool(self) -> ThreadPoolExecutor:
        """Threads that render the segments of one long text side by side."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.parallel_segments, thread_name_prefix=f"tts-{self.name}"
                )
            return self._pool

    async def stream(
        self,
        text: str,
        style: Style | None = None,
        voice: str | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[Audio]:
        """Yield audio per segment as soon as it is ready (model work in ``executor``).

        The first segment is computed alone; after it, up to ``parallel_segments`` are in
        flight, so later ones are computed while the consumer plays the earlier ones.
        Closing the generator early (barge-in) cancels what has not started.
        """
        name = self.resolve_voice(voice)
        segments = self.plan(text, style, streaming=True)
        loop = asyncio.get_running_loop()
        pending: collections.deque[asyncio.Future[Audio]] = collections.deque()
        upcoming = iter(segments)
        try:
            first = next(upcoming, None)
            if first is not None:  # the first segment runs alone: fastest first audio
                pending.append(loop.run_in_executor(executor, self.segment_audio, first, name))
            while pending:
                audio = await pending.popleft()
                # then keep up to ``parallel_segments`` in flight while the consumer plays
                for seg in itertools.islice(upcoming, self.parallel_segments - len(pending)):
                    pending.append(loop.run_in_executor(executor, self.segment_audio, seg, name))
                yield audio
        finally:
            for fut in pending:
                fut.cancel()
