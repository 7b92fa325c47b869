"""Mandarin text → Kokoro v1.0 phonemes.

Hanzi are cut into words with jieba, each word gets pinyin from pypinyin's phrase
dictionary (the word context resolves most polyphones), a small table below fixes the
polyphones pypinyin still gets wrong in common phrases, and misaki's ``ZHG2P.py2ipa``
maps each pinyin syllable to the IPA-with-tone-arrows symbols Kokoro v1.0 was trained on
(misaki's "legacy" Mandarin style: words separated by spaces, punctuation mapped to
ASCII). Latin words are looked up in misaki's English gold lexicon (same phoneme set);
acronyms and unknown words are spelled by their Chinese letter names.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from tingshuo.tts.textnorm import spell_latin

__all__ = ["phonemize", "PUNCT_MAP", "pinyin_words"]

# Chinese punctuation → what the model's vocabulary holds (misaki's mapping)
PUNCT_MAP: dict[str, str] = {
    "，": ",",
    "、": ",",
    "。": ".",
    "．": ".",
    "！": "!",
    "？": "?",
    "：": ":",
    "；": ";",
    "…": "…",
    "——": "—",
    "—": "—",
    "“": "“",
    "”": "”",
    "「": "“",
    "」": "”",
    "《": "“",
    "》": "”",
    "（": "(",
    "）": ")",
    "(": "(",
    ")": ")",
    ",": ",",
    ".": ".",
    "!": "!",
    "?": "?",
    ":": ":",
    ";": ";",
    '"': '"',
}

# Phrases whose reading pypinyin's dictionary gets wrong (checked against 现代汉语词典 readings).
POLYPHONE_PHRASES: dict[str, str] = {
    "很长": "hen3 chang2",
    "太长": "tai4 chang2",
    "更长": "geng4 chang2",
    "最长": "zui4 chang2",
    "还钱": "huan2 qian2",
    "还书": "huan2 shu1",
    "还款": "huan2 kuan3",
    "还债": "huan2 zhai4",
    "还给": "huan2 gei3",
    "归还": "gui1 huan2",
    "偿还": "chang2 huan2",
    "数一数": "shu3 yi5 shu3",
    "得去": "dei3 qu4",
    "得走": "dei3 zou3",
    "一行": "yi4 hang2",
    "行长": "hang2 zhang3",
    "发行": "fa1 xing2",
    "重重": "chong2 chong2",
    "便宜": "pian2 yi5",
    "调查": "diao4 cha2",
    "强调": "qiang2 diao4",
    "着急": "zhao2 ji2",
    "睡着": "shui4 zhao2",
    "差不多": "cha4 bu5 duo1",
    "出差": "chu1 chai1",
    "参差": "cen1 ci1",
    "处理": "chu3 li3",
    "好奇": "hao4 qi2",
    "恨不得": "hen4 bu5 de5",
    "舍不得": "she3 bu5 de5",
    "怪不得": "guai4 bu5 de5",
    "爱好": "ai4 hao4",
    "喜好": "xi3 hao4",
}

_HANZI = re.compile(r"[\u3400-\u9fff]+")
_LATIN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_TOKEN = re.compile(r"[\u3400-\u9fff]+|[A-Za-z]+(?:'[A-Za-z]+)?|\s+|.", re.S)


@lru_cache(maxsize=1)
def _tone_sandhi() -> Any:
    from misaki.tone_sandhi import ToneSandhi

    return ToneSandhi()


def tagged_words(text: str) -> list[tuple[str, str]]:
    """jieba words with part-of-speech tags, merged the way the tone-sandhi rules expect
    (不/一 with their neighbours, reduplications, runs of third tones)."""
    from tingshuo.tts.segment import jieba_tagged_words

    pairs = jieba_tagged_words(text)
    return _tone_sandhi().pre_merge_for_modify(pairs)


def pinyin_words(text: str) -> list[tuple[str, list[str]]]:
    """Words of a hanzi run with their TONE3 pinyin (neutral tone = 5), tone sandhi applied.

    Readings come from pypinyin's phrase dictionary (the word context resolves most
    polyphones); adjacent words whose concatenation is in :data:`POLYPHONE_PHRASES` are
    read as that phrase (jieba often cuts "还钱" into "还" + "钱", losing the context).
    Then the spoken tone changes of Standard Mandarin, with misaki's ``ToneSandhi`` (the
    PaddleSpeech rules): third tone before third tone, 一 and 不 by the following tone,
    and neutral tones of particles and suffixes (得/地/的, 了/着/过, 们/子, ...).
    """
    from pypinyin import Style, lazy_pinyin

    words = tagged_words(text)
    sandhi = _tone_sandhi()
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(words):
        word, pos = words[i]
        for span in (3, 2):
            joined = "".join(w for w, _ in words[i : i + span])
            if i + span <= len(words) and joined in POLYPHONE_PHRASES:
                out.append((joined, POLYPHONE_PHRASES[joined].split()))
                i += span
                break
        else:
            if word in POLYPHONE_PHRASES:
                pys = POLYPHONE_PHRASES[word].split()
            else:
                pys = lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True)
                if len(pys) == len(word) and all(p[-1:].isdigit() for p in pys):
                    pys = _spoken_tones(word, pys, sandhi.modified_tone(word, pos, list(pys)))
            out.append((word, pys))
            i += 1
    return out


PARTICLES_DE = {"的", "地", "得"}


def _spoken_tones(word: str, dictionary: list[str], sandhi: list[str]) -> list[str]:
    """The sandhi rules' tones, minus two over-general neutral-tone rules.

    The rules make a final 的/地/得 neutral in every word and the second of two equal
    characters neutral in every noun/verb; but in 目的, 土地, 基地, 获得 the dictionary
    reading is right (觉得 and 记得 are neutral there already), and in 银行行长 the 行行
    is not a reduplication. So: a word-final 的/地/得 keeps the dictionary's tone unless it
    is the particle itself (then de5); a reduplication is neutral only in two-character
    words (看看, 奶奶) and AABB forms (高高兴兴).
    """
    if word in PARTICLES_DE:
        return ["de5"]
    out = list(sandhi)
    if len(word) > 1 and word[-1] in PARTICLES_DE:
        out[-1] = dictionary[-1]
    aabb = len(word) == 4 and word[0] == word[1] and word[2] == word[3]
    if len(word) > 2 and not aabb:
        for j in range(1, len(word)):
            if word[j] == word[j - 1] and out[j].endswith("5"):
                out[j] = dictionary[j]
    return out


@lru_cache(maxsize=4096)
def _syllable_ipa(py: str) -> str:
    from misaki.zh import ZHG2P

    try:
        return ZHG2P.py2ipa(py).replace(chr(815), "")  # as misaki: no non-syllabic marks
    except Exception:  # misaki asserts on syllables it cannot map (rare erhua forms)
        if py.endswith(tuple("12345")) and py[:-1].endswith("r") and len(py) > 2:
            return _syllable_ipa(py[:-2] + py[-1]) + "ɻ"
        return ""


@lru_cache(maxsize=1)
def _english_lexicon() -> dict[str, Any]:
    from importlib.resources import files

    return json.loads((files("misaki") / "data" / "us_gold.json").read_text(encoding="utf-8"))


def _latin_phonemes(word: str) -> str:
    lex = _english_lexicon()
    if not (word.isupper() and len(word) <= 5):  # acronyms are spelled
        for key in (word, word.lower(), word.capitalize()):
            entry = lex.get(key)
            if isinstance(entry, dict):
                entry = entry.get("DEFAULT") or next(iter(entry.values()), None)
            if isinstance(entry, str):
                return entry
    return _hanzi_phonemes(spell_latin(word.upper()))


def _hanzi_phonemes(text: str) -> str:
    words = []
    for _, pys in pinyin_words(text):
        words.append("".join(_syllable_ipa(p) for p in pys))
    return " ".join(w for w in words if w)


def phonemize(text: str) -> str:
    """Phonemes for one normalised text segment (hanzi, Latin words, punctuation)."""
    parts: list[str] = []
    for tok in _TOKEN.findall(text):
        if _HANZI.fullmatch(tok):
            parts.append(_hanzi_phonemes(tok))
        elif _LATIN.fullmatch(tok):
            parts.append(_latin_phonemes(tok))
        elif tok.isspace():
            continue
        elif tok in PUNCT_MAP:
            mapped = PUNCT_MAP[tok]
            if parts:
                parts[-1] = parts[-1] + mapped
            else:
                parts.append(mapped)
        # other symbols (emoji, math signs left after normalisation) are not spoken
    return " ".join(p for p in parts if p).strip()
