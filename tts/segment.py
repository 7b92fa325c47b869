"""Long-text segmentation for synthesis: sentences first, then clauses, then words.

A synthesizer renders (and streams) one segment at a time, so segments should be short
enough for fast first audio yet follow the text's own pauses. The order of preference:

1. sentence-final punctuation (。！？；… and line breaks),
2. clause punctuation (，、：,: and closing quotes) packed greedily up to ``max_chars``,
3. word boundaries from jieba's segmenter, so no word is ever cut in half.

Punctuation stays attached to the text before it (the synthesizer reads it as a pause).
"""

from __future__ import annotations

import re
import threading

__all__ = [
    "split_text",
    "split_sentences",
    "jieba_words",
    "jieba_tagged_words",
    "SENTENCE_END",
    "CLAUSE_END",
]

SENTENCE_END = "。！？!?；;…\n"
CLAUSE_END = "，,、：:—"
_CLOSERS = "”’」』）)》】\"'"

_SENTENCE_RE = re.compile(
    rf"[^{re.escape(SENTENCE_END)}]*(?:[{re.escape(SENTENCE_END)}]+[{_CLOSERS}]*|$)"
)
_CLAUSE_RE = re.compile(
    rf"[^{re.escape(CLAUSE_END)}]*(?:[{re.escape(CLAUSE_END)}]+[{_CLOSERS}]*|$)"
)
_jieba_lock = threading.Lock()


def _pieces(regex: re.Pattern[str], text: str) -> list[str]:
    return [p for p in regex.findall(text) if p.strip()]


def split_sentences(text: str) -> list[str]:
    """Split at sentence-final punctuation (kept with its sentence); blank pieces dropped."""
    return [p.strip() for p in _pieces(_SENTENCE_RE, text) if p.strip()]


def jieba_words(text: str) -> list[str]:
    """jieba's word segmentation (HMM on), safe to call from several threads."""
    import jieba

    with _jieba_lock:  # jieba's lazy dictionary load is not thread-safe
        jieba.setLogLevel(60)
        return jieba.lcut(text, HMM=True)


def jieba_tagged_words(text: str) -> list[tuple[str, str]]:
    """jieba's words with part-of-speech tags (``jieba.posseg``), under the same lock."""
    import jieba
    import jieba.posseg as psg

    with _jieba_lock:
        jieba.setLogLevel(60)
        return [(w.word, w.flag) for w in psg.lcut(text)]


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Greedily join consecutive parts while the result stays within ``max_chars``."""
    out: list[str] = []
    cur = ""
    for part in parts:
        if cur and len(cur) + len(part) > max_chars and _has_word(part):
            out.append(cur)
            cur = part
        else:
            cur += part
    if cur:
        out.append(cur)
    return out


def _split_long(piece: str, max_chars: int) -> list[str]:
    """Cut a piece with no usable punctuation at word boundaries (a word is never split)."""
    return _pack(jieba_words(piece), max_chars)


def split_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into segments of at most ``max_chars`` characters where possible.

    Sentence punctuation is preferred, then commas, then jieba word boundaries; a single
    word longer than ``max_chars`` stays whole. Whitespace-only input gives ``[]``.

    >>> split_text("你好。今天天气很好，我们去公园散步吧！", 8)
    ['你好。', '今天天气很好，', '我们去公园散步吧！']
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    segments: list[str] = []
    for sentence in split_sentences(text):
        if len(sentence) <= max_chars:
            segments.append(sentence)
            continue
        clauses: list[str] = []
        for clause in _pieces(_CLAUSE_RE, sentence):
            if len(clause) <= max_chars:
                clauses.append(clause)
            else:
                clauses.extend(_split_long(clause, max_chars))
        segments.extend(s.strip() for s in _pack(clauses, max_chars) if s.strip())
    return segments
