"""Pinyin syllable -> KAN-TTS phones (initial + final), and Mandarin tone sandhi.

The phone split follows the PinYin ``py2phoneMap`` convention (checked against the full
table in the tests): zero-initial syllables take a pseudo-initial ``ga``/``ge``/``go``,
``y``/``w`` are initials of their own, ``x`` is ``xx_c``, the apical vowels are ``ih`` (after
zh/ch/sh/r) and ``ii`` (after z/c/s), contracted finals are expanded (iu→iou, ui→uei,
un→uen), ü is written ``v``, and an erhua syllable takes the ``<final>r`` phone.
"""

from __future__ import annotations

from tingshuo.tts.sambert.symbols import PHONES

INITIALS = [
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
    "y",
    "w",
]  # two-letter initials first so that prefix matching is greedy
_PHONE_SET = frozenset(PHONES)
_INITIAL_PHONES = frozenset([f"{i}_c" for i in INITIALS if i != "x"] + ["xx_c", "ga", "ge", "go"])
_ZERO_INITIAL = {"a": "ga", "o": "go", "e": "ge"}
_CONTRACTED = {"iu": "iou", "ui": "uei", "un": "uen"}
# interjection syllables pypinyin can return that the phone set spells differently
ALIASES = {"n": "en", "ng": "eng", "m": "mu", "hm": "hen", "hng": "heng", "ê": "ei"}


class PinyinError(ValueError):
    """A pinyin syllable that has no phone spelling."""


def normalize_pinyin(syllable: str) -> str:
    """Lower-case, ``ü``/``u:`` → ``v``, ``ju``/``qu``/``xu``/``yu`` → ``jv``…, interjection aliases."""
    s = syllable.lower().replace("ü", "v").replace("u:", "v")
    s = ALIASES.get(s, s)
    if len(s) > 1 and s[0] in "jqxy" and s[1] == "u":
        s = s[0] + "v" + s[2:]
    return s


def split_syllable(syllable: str) -> tuple[str, str]:
    """``"zhuang"`` → ``("zh", "uang")``; zero-initial syllables give ``("", final)``."""
    for ini in INITIALS:
        if syllable.startswith(ini) and len(syllable) > len(ini):
            return ini, syllable[len(ini) :]
    return "", syllable


def _final_phone(initial: str, final: str) -> str:
    if initial in ("zh", "ch", "sh", "r") and final == "i":
        return "ih"
    if initial in ("z", "c", "s") and final == "i":
        return "ii"
    if initial == "w" and final == "u":
        return "u"
    if initial in ("j", "q", "x") and final == "un":  # already v-spelled by normalize_pinyin
        return "vn"
    if initial not in ("y", "w"):
        final = _CONTRACTED.get(final, final)
    return final


def syllable_phones(syllable: str) -> tuple[str, str]:
    """Toneless pinyin → ``(initial_phone, final_phone)``, e.g. ``"xue"`` → ``("xx_c", "ve_c")``.

    Raises PinyinError when the syllable (after normalisation) has no phones in the set.
    """
    s = normalize_pinyin(syllable)
    erhua = s.endswith("r") and s != "er"
    base = s[:-1] if erhua else s
    initial, final = split_syllable(base)
    if not initial:
        if not final or final[0] not in _ZERO_INITIAL:
            raise PinyinError(f"pinyin {syllable!r} has no phone spelling")
        ini_phone = _ZERO_INITIAL[final[0]]
    else:
        ini_phone = "xx_c" if initial == "x" else f"{initial}_c"
    fin = _final_phone(initial, final)
    if erhua:
        fin = "er" if fin == "e" else fin + "r"
    fin_phone = f"{fin}_c"
    if fin_phone in _INITIAL_PHONES or not {ini_phone, fin_phone} <= _PHONE_SET:
        raise PinyinError(f"pinyin {syllable!r} has no phone spelling ({ini_phone} {fin_phone})")
    return ini_phone, fin_phone


# ---------------------------------------------------------------------------------------
# tone sandhi


_NUMERALS = frozenset("零〇一二两三四五六七八九十百千万亿点第")


def yi_bu_sandhi(chars: list[str], tones: list[int], word_end: list[bool]) -> list[int]:
    """Tone changes of 一 and 不 over one prosodic phrase.

    ``chars``/``tones`` are per syllable (tones 1–5), ``word_end[i]`` is True when syllable
    i ends its lexical word. 一 keeps tone 1 in numbers (next to a numeral or after 第),
    at the end of a multi-syllable word (统一) and at the end of the phrase; between two
    copies of a verb (看一看) it is neutral; otherwise it is tone 2 before tone 4 (or a
    neutral syllable) and tone 4 before tones 1–3. 不 is tone 2 before tone 4 and neutral
    in A不A questions (好不好).
    """
    out = list(tones)
    n = len(chars)
    for i, ch in enumerate(chars):
        if ch not in "一不":
            continue
        prev = chars[i - 1] if i > 0 else ""
        nxt = chars[i + 1] if i + 1 < n else ""
        nxt_tone = tones[i + 1] if i + 1 < n else 0
        if prev and prev == nxt:
            out[i] = 5
        elif ch == "一":
            numeric = prev in _NUMERALS or nxt in _NUMERALS
            word_final = word_end[i] and i > 0 and not word_end[i - 1]
            if numeric or word_final or not nxt:
                out[i] = 1
            else:
                out[i] = 2 if nxt_tone in (4, 5) else 4
        else:
            out[i] = 2 if nxt_tone == 4 else 4
    return out


def third_tone_sandhi(words: list[list[int]]) -> list[list[int]]:
    """Third-tone sandhi over the lexical words of one prosodic phrase.

    Inside a word every third tone directly followed by another third tone becomes tone 2
    (你好 → ni2 hao3, 展览馆 → 2 2 3). Then, right to left across word boundaries, a
    word-final third tone before a word-initial third tone becomes tone 2 (我 很好 →
    3 2 3, since 很 has already become 2).
    """
    out = [list(w) for w in words]
    for tones in out:
        for i in range(len(tones) - 1):
            if tones[i] == 3 and tones[i + 1] == 3:
                tones[i] = 2
    for k in range(len(out) - 2, -1, -1):
        left, right = out[k], out[k + 1]
        if left and right and left[-1] == 3 and right[0] == 3:
            left[-1] = 2
    return out
