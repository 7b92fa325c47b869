"""Guards against Whisper's failure modes: repetition loops and text hallucinated on noise.

Whisper-style decoders can loop ("5 5 5 5 …", one phrase over and over) or emit fluent text
for non-speech (tones, music, noise). The signals used are the ones the Whisper paper
(Radford et al. 2022, §4.5 "long-form transcription") uses for its fallback heuristics:
gzip compression ratio of the text (> 2.4 ⇒ repetitive), average token log-probability
(< −1 ⇒ low confidence) and the no-speech probability (> 0.6 ⇒ likely silence), plus an
explicit consecutive-repeat detector and a short list of subtitle-credit phrases that Whisper
is widely reported to emit on silence and music.

Everything here is pure text/number logic, testable without a model.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, replace

from tingshuo.asr.config import GuardConfig

# flags set on Transcript.flags
FLAG_REPETITION = "repetition_truncated"
FLAG_HALLUCINATION = "hallucination_dropped"
FLAG_PROMPT_ECHO = "prompt_echo_dropped"
DEFAULT_GUARD = GuardConfig()

_CREDIT_PATTERNS = (
    re.compile(r"(字幕|subtitles?|caption).{0,16}(提供|制作|by|志愿者)", re.IGNORECASE),
    re.compile(r"amara\.org", re.IGNORECASE),
    re.compile(r"请不吝点赞|点赞.{0,4}订阅|订阅.{0,6}(转发|打赏)"),
    re.compile(r"明镜.{0,4}点点栏目"),
)


@dataclass(frozen=True)
class DecodedSegment:
    """One decoder segment with the statistics the guard needs."""

    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


def compression_ratio(text: str) -> float:
    """UTF-8 length / zlib-compressed length (Whisper's repetitiveness measure)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def find_loop(text: str, cfg: GuardConfig = DEFAULT_GUARD) -> tuple[int, int, int] | None:
    """The longest run of one unit repeated back to back: ``(start, unit_len, repeats)``.

    Only runs that reach ``min_repeats`` (``min_repeats_single`` for one character) count.
    """
    best: tuple[int, int, int] | None = None
    n = len(text)
    for unit in range(1, min(cfg.max_unit_chars, n // 2) + 1):
        need = cfg.min_repeats_single if unit == 1 else cfg.min_repeats
        i = 0
        while i + unit * need <= n:
            piece = text[i : i + unit]
            if piece.strip():
                reps = 1
                while text.startswith(piece, i + reps * unit):
                    reps += 1
                if reps >= need and (best is None or reps * unit > best[1] * best[2]):
                    best = (i, unit, reps)
                if reps >= need:
                    i += reps * unit
                    continue
            i += 1
    return best


def truncate_loops(text: str, cfg: GuardConfig = DEFAULT_GUARD) -> tuple[str, bool]:
    """Cut every repetition loop down to ``keep_repeats`` copies; returns (text, changed)."""
    changed = False
    for _ in range(8):  # a few distinct loops at most
        loop = find_loop(text, cfg)
        if loop is None:
            break
        start, unit, reps = loop
        keep_end = start + unit * cfg.keep_repeats
        text = text[:keep_end] + text[start + unit * reps :]
        changed = True
    return text, changed


def is_credit_phrase(text: str) -> bool:
    """Subtitle-credit / channel-outro text that Whisper emits on silence or music."""
    return any(p.search(text) for p in _CREDIT_PATTERNS)


def guard_segments(
    segments: list[DecodedSegment], cfg: GuardConfig = DEFAULT_GUARD, prompt: str = ""
) -> tuple[list[DecodedSegment], tuple[str, ...]]:
    """Drop hallucinated segments and truncate loops; returns (kept segments, flags)."""
    kept: list[DecodedSegment] = []
    flags: list[str] = []
    for seg in segments:
        text = seg.text.strip()
        if not text:
            continue
        low_confidence = seg.avg_logprob < cfg.logprob_threshold
        # Whisper skips a segment when no_speech > 0.6 AND logprob < -1; a low-confidence
        # segment with even half that no-speech evidence is treated as made up too
        if low_confidence and seg.no_speech_prob > cfg.no_speech_threshold / 2:
            flags.append(FLAG_HALLUCINATION)
            continue
        if is_credit_phrase(text):
            flags.append(FLAG_HALLUCINATION)
            continue
        if prompt and _squash(text) == _squash(prompt):
            flags.append(FLAG_PROMPT_ECHO)
            continue
        text, looped = truncate_loops(text, cfg)
        if looped:
            flags.append(FLAG_REPETITION)
        if compression_ratio(text) > cfg.compression_ratio_threshold:
            flags.append(FLAG_HALLUCINATION)  # repetitive in a way the loop finder missed
            continue
        kept.append(replace(seg, text=text))
    return kept, tuple(dict.fromkeys(flags))


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)
