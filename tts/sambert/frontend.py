"""Linguistic front end replacing ttsfrd: text -> ``{sy$tone$...}`` token lines.

Per sentence: shared text normalisation (``tts.textnorm``), jieba words, pypinyin
syllables and tones, 一/不 and third-tone sandhi, phones from the PinYin map, the
syllable/word position flags of io_contract §2, and prosody breaks:

* ``#4`` after the last word of a sentence,
* ``#3`` at clause punctuation inside it,
* ``#2`` splitting a phrase longer than ``MAX_PHRASE_SYLLABLES`` at the word boundary
  nearest its middle (recursively),
* ``#1`` between other words, except before a clitic particle (的, 了, 吗, ...), which
  joins the word before it (level 0, no token).

Latin letters are spelled by their Chinese letter names (``tts.textnorm.spell_latin``).
A character that cannot be spoken (no pinyin, a leftover digit, an emoji, a symbol)
raises ``UnknownSymbolError`` naming it; nothing is silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tingshuo.tts.sambert.pinyin import (
    PinyinError,
    syllable_phones,
    third_tone_sandhi,
    yi_bu_sandhi,
)
from tingshuo.tts.sambert.symbols import UnknownSymbolError

MAX_PHRASE_SYLLABLES = 10
CLITICS = frozenset(
    [
        "的",
        "地",
        "得",
        "了",
        "着",
        "过",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "哇",
        "啦",
        "嘛",
        "哦",
        "么",
        "们",
    ]
)
# readings where pypinyin's single-character default is the rarer one
ATTACHED_READINGS = {"的": ("de", 5), "地": ("de", 5), "着": ("zhe", 5), "了": ("le", 5)}
SINGLE_WORD_READINGS = {"长": ("chang", 2)}
BREAK_PUNCT = frozenset("，,、：:；;。！？!?…—–.～~")
SKIP_CHARS = frozenset("“”‘’\"'「」『』《》〈〉()（）【】[]{}·-_ \t\r\n\u3000")
_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3007]")
_LATIN_RUN = re.compile(r"[A-Za-z]+")


@dataclass
class Syllable:
    """One spoken syllable: its character, toneless pinyin, tone (1–5) and phones."""

    char: str
    pinyin: str
    tone: int
    phones: tuple[str, ...] = ()


@dataclass
class Word:
    """A lexical word and the prosody break level that follows it (0–4)."""

    text: str
    syllables: list[Syllable] = field(default_factory=list)
    brk: int = 0


def _default_normalize(text: str) -> str:
    """Shared normalisation, then Latin letters spelled by their Chinese letter names."""
    from tingshuo.tts.textnorm import normalize, spell_latin

    return _LATIN_RUN.sub(lambda m: spell_latin(m.group().upper()), normalize(text))


def _cut(text: str) -> list[str]:
    from tingshuo.tts.segment import jieba_words

    return jieba_words(text)


def _syllables(word: str) -> list[Syllable]:
    from pypinyin import Style, lazy_pinyin

    def no_pinyin(chars: str) -> str:
        raise UnknownSymbolError(f"cannot pronounce character {chars[0]!r} (U+{ord(chars[0]):04X})")

    marks = lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True, errors=no_pinyin)
    if len(marks) != len(word):
        raise UnknownSymbolError(f"pinyin of {word!r} does not align with its characters: {marks}")
    out = []
    for ch, mark in zip(word, marks, strict=True):
        tone = int(mark[-1]) if mark[-1].isdigit() else 5
        out.append(Syllable(ch, mark.rstrip("012345"), tone))
    return out


def _check_char(ch: str) -> None:
    if not (_HANZI.match(ch) or ch in BREAK_PUNCT or ch in SKIP_CHARS):
        raise UnknownSymbolError(f"cannot pronounce character {ch!r} (U+{ord(ch):04X})")


def _split_long(words: list[Word], lo: int, hi: int) -> None:
    """Give the most central #1 boundary of words[lo:hi] level 2 while the phrase is too long."""
    counts = [len(w.syllables) for w in words[lo:hi]]
    total = sum(counts)
    if total <= MAX_PHRASE_SYLLABLES or hi - lo < 2:
        return
    best, best_dist, run = -1, total + 1, 0
    for k in range(lo, hi - 1):
        run += counts[k - lo]
        if words[k].brk == 1 and abs(2 * run - total) < best_dist:
            best, best_dist = k, abs(2 * run - total)
    if best < 0:
        return
    words[best].brk = 2
    _split_long(words, lo, best + 1)
    _split_long(words, best + 1, hi)


def _phrases(words: list[Word]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for k, w in enumerate(words):
        if w.brk >= 2 or k == len(words) - 1:
            spans.append((start, k + 1))
            start = k + 1
    return spans


class Frontend:
    """Chinese text -> token lines for SAM-BERT, one line per sentence."""

    def __init__(self, normalize: Callable[[str], str] | None = None):
        self._normalize = normalize or _default_normalize

    def analyse(self, text: str) -> list[list[Word]]:
        """Sentences of words with syllables, final tones, phones and break levels."""
        from tingshuo.tts.segment import split_sentences

        sentences = []
        for sentence in split_sentences(self._normalize(text)):
            words = self._words(sentence)
            if words:
                sentences.append(words)
        return sentences

    def _words(self, sentence: str) -> list[Word]:
        for ch in sentence:
            _check_char(ch)
        words: list[Word] = []
        for piece in _cut(sentence):
            if _HANZI.match(piece[0]):
                for ch in piece:
                    if not _HANZI.match(ch):
                        raise UnknownSymbolError(f"cannot pronounce character {ch!r} in {piece!r}")
                syllables = _syllables(piece)
                if piece in SINGLE_WORD_READINGS:
                    syllables[0].pinyin, syllables[0].tone = SINGLE_WORD_READINGS[piece]
                words.append(Word(piece, syllables, brk=1))
            elif any(ch in BREAK_PUNCT for ch in piece) and words:
                words[-1].brk = 3
        if not words:
            return []
        for left, right in zip(words, words[1:], strict=False):
            if left.brk == 1 and right.text in CLITICS:
                left.brk = 0
                if right.text in ATTACHED_READINGS:
                    right.syllables[0].pinyin, right.syllables[0].tone = ATTACHED_READINGS[
                        right.text
                    ]
        words[-1].brk = 4
        for lo, hi in _phrases(words):
            _split_long(words, lo, hi)
        for lo, hi in _phrases(words):
            self._sandhi(words[lo:hi])
        for w in words:
            for syl in w.syllables:
                try:
                    syl.phones = syllable_phones(syl.pinyin)
                except PinyinError as exc:
                    raise UnknownSymbolError(
                        f"cannot pronounce character {syl.char!r}: {exc}"
                    ) from None
        return words

    @staticmethod
    def _sandhi(phrase: list[Word]) -> None:
        syls = [s for w in phrase for s in w.syllables]
        ends = [i == len(w.syllables) - 1 for w in phrase for i in range(len(w.syllables))]
        tones = yi_bu_sandhi([s.char for s in syls], [s.tone for s in syls], ends)
        for s, t in zip(syls, tones, strict=True):
            s.tone = t
        grouped = third_tone_sandhi([[s.tone for s in w.syllables] for w in phrase])
        for w, ts in zip(phrase, grouped, strict=True):
            for s, t in zip(w.syllables, ts, strict=True):
                s.tone = t

    def tokens(self, text: str, emotion: str = "emotion_neutral", speaker: str = "F7") -> list[str]:
        """Token lines (``{sy$tone$syllable_flag$word_segment$emotion$speaker} ...``) per sentence."""
        return [render_tokens(words, emotion, speaker) for words in self.analyse(text)]


def _word_segment_flags(syllables: list[Syllable]) -> list[str]:
    """Per-phone word-position flags (io_contract §2, ``Syllable.GetPhoneMeta`` rules)."""
    n_phones = sum(len(s.phones) for s in syllables)
    if n_phones == 1:
        return ["word_both"]
    flags: list[str] = []
    last = len(syllables) - 1
    for k, syl in enumerate(syllables):
        m = len(syl.phones)
        for j in range(m):
            s_flag = _syllable_flag(j, m)
            if k == 0:
                if s_flag in ("s_begin", "s_both"):
                    flags.append("word_begin")
                elif last == 0 and s_flag == "s_end":
                    flags.append("word_end")
                else:
                    flags.append("word_middle")
            elif k == last:
                flags.append("word_end" if s_flag in ("s_end", "s_both") else "word_middle")
            else:
                flags.append("word_middle")
    return flags


def _syllable_flag(j: int, m: int) -> str:
    if m == 1:
        return "s_both"
    return "s_begin" if j == 0 else "s_end" if j == m - 1 else "s_middle"


def render_tokens(words: list[Word], emotion: str = "emotion_neutral", speaker: str = "F7") -> str:
    """Join words into one token line (break tokens after words with a non-zero level)."""
    out = []
    for w in words:
        flags = _word_segment_flags(w.syllables)
        k = 0
        for syl in w.syllables:
            m = len(syl.phones)
            for j, phone in enumerate(syl.phones):
                out.append(
                    f"{{{phone}$tone{syl.tone}${_syllable_flag(j, m)}${flags[k]}${emotion}${speaker}}}"
                )
                k += 1
        if w.brk:
            out.append(f"{{#{w.brk}$tone_none$s_none$word_none${emotion}${speaker}}}")
    return " ".join(out)
