"""Hotwords that only act where they may help: a sound-alike check decides when to bias.

Whisper's ``hotwords`` prefix biases every decode, and on general speech that costs more than
it gains (asr-dev CER 10.73 % → 16.10 % with the knowledge base's 14 product and service
terms; docs/asr.md). So, in ``asr.hotword_mode = "sounds_like"``, an utterance is decoded
plainly first and re-decoded with the hotwords only when the plain text *sounds like* one of
them: some window of the hypothesis' toneless pinyin matches the hotword's pinyin in at least
``SOUNDS_LIKE_SHARE`` of its syllables (all of them for two-syllable words). General speech
then decodes once, as without hotwords; an utterance that mentions a product pays a second
decode.
"""

from __future__ import annotations

import functools
import math

SOUNDS_LIKE_SHARE = 0.6  # share of a hotword's syllables that must match, position by position


@functools.lru_cache(maxsize=4096)
def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of the Chinese characters in ``text`` (other characters are skipped)."""
    from pypinyin import lazy_pinyin

    return tuple(s for s in lazy_pinyin(text, errors="ignore") if s.isalpha())


def sounds_like(hypothesis: str, hotword: str) -> bool:
    """Whether some stretch of ``hypothesis`` sounds like ``hotword`` (see module doc)."""
    word = syllables(hotword)
    hyp = syllables(hypothesis)
    n = len(word)
    if n == 0 or len(hyp) < n:
        return False
    need = n if n <= 2 else math.ceil(SOUNDS_LIKE_SHARE * n)
    return any(
        sum(a == b for a, b in zip(hyp[i : i + n], word, strict=True)) >= need
        for i in range(len(hyp) - n + 1)
    )


def hotwords_heard(hypothesis: str, hotwords: str) -> list[str]:
    """The space-separated ``hotwords`` that ``hypothesis`` sounds like."""
    return [w for w in hotwords.split() if sounds_like(hypothesis, w)]
