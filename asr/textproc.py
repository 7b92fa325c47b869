"""Transcript text post-processing: Traditional→Simplified, inverse text normalisation, CER text.

ITN turns spoken Chinese numerals into digits for numbers, dates, times, money and percentages
(``二零二四年五月一日`` → ``2024年5月1日``, ``三百五十块`` → ``350块``, ``百分之五十`` → ``50%``).
The numeral values are parsed by ``cn2an``; this module only decides *which* spans are numbers,
because ``cn2an.transform`` on its own also rewrites words such as ``一些`` → ``1些``.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import replace

from tingshuo.asr.base import Transcript

log = logging.getLogger(__name__)

_DIGITS = "零〇幺一二两三四五六七八九"
_UNITS = "十百千万亿"
_DIGIT_VALUE = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {
    "〇": "0",
    "两": "2",
    "幺": "1",
}
# a numeral run starting with a digit or 十, optional decimal part; optional 百分之 before it
_NUMBER = re.compile(
    rf"(?P<pct>百分之)?(?P<int>[{_DIGITS}十][{_DIGITS}{_UNITS}]*)(?:点(?P<frac>[{_DIGITS}]+))?"
)
# a digit string read in groups: runs of spoken or written digits (no units) joined by spaces,
# commas, 顿号 or dashes, as people read order and phone numbers and as Whisper writes them
_DIGIT_CHARS = f"{_DIGITS}0-9"
_DIGIT_GROUPS = re.compile(
    rf"(?<![{_DIGIT_CHARS}{_UNITS}点.])[{_DIGIT_CHARS}]+(?:[ \t,，、\-－—]+[{_DIGIT_CHARS}]+)+"
    rf"(?![{_DIGIT_CHARS}{_UNITS}]|点[{_DIGITS}])"
)
_DATE = re.compile(r"^\d{4}[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])$")
MIN_GROUPED_DIGITS = 7  # fewer digits in groups stay as they are (counts such as 三、四)
# words after which even a short digit run is a code, not a quantity or an idiom
_CODE_WORDS = re.compile(r"(号码?|单号|尾号|编号|验证码|密码|工号|房间|车牌|分机)(是|为|:|：)?$")
# what may follow a number for a single numeral character to count as a number
_SINGLE_OK_AFTER = tuple("年月日号点时分秒元块毛角岁度%")
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _t2s():  # noqa: ANN202 - opencc has no type stubs
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (OpenCC ``t2s``)."""
    if not text:
        return text
    with _lock:  # one converter shared across threads; conversions are short
        return _t2s().convert(text)


def _positional_value(numeral: str) -> str | None:
    """``三百五十`` → ``350`` via cn2an; None when cn2an rejects the string."""
    import cn2an

    try:
        value = cn2an.cn2an(numeral, "smart")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        log.debug("ITN: cn2an rejected %r: %s", numeral, exc)
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _convert_number(match: re.Match[str], text: str) -> str:
    whole = match.group(0)
    pct, integer, frac = match.group("pct"), match.group("int"), match.group("frac")
    after = text[match.end() : match.end() + 1]
    single = len(integer) == 1 and frac is None and not pct
    if text.startswith(("点点", "点儿"), match.end()) and frac is None:
        return whole  # 一点点, 一点儿: "a little"
    if single and integer != "十" and not after.startswith(_SINGLE_OK_AFTER):
        return whole  # 一些, 一个, 星期一, 第一: a word, not a quantity
    if any(u in integer for u in _UNITS):
        digits = _positional_value(integer)
        if digits is None:
            return whole
    else:
        # digit strings: years (before 年), phone and account numbers (long runs); short runs
        # with no unit after them are usually words or idioms (三三两两, 一一)
        quantity = bool(pct or frac) or after.startswith(_SINGLE_OK_AFTER)
        code = _CODE_WORDS.search(text[max(0, match.start() - 4) : match.start()]) is not None
        if len(integer) < 5 and not quantity and not (code and len(integer) >= 3):
            return whole
        digits = "".join(_DIGIT_VALUE[c] for c in integer)
    if frac:
        digits += "." + "".join(_DIGIT_VALUE[c] for c in frac)
    return digits + ("%" if pct else "")


def join_digit_groups(text: str) -> str:
    """A digit string read or written in groups becomes one digit string.

    ``二零二四 二零二零 一八八六六`` and ``2024-2020-18866`` → ``2024202018866``;
    ``幺三八 零零幺三 八零零零`` → ``13800138000``. Only runs with at least
    ``MIN_GROUPED_DIGITS`` digits in all are joined, and ISO-like dates are left alone.
    """

    def join(match: re.Match[str]) -> str:
        whole = match.group(0)
        digits = "".join(_DIGIT_VALUE.get(c, c) for c in whole if c.isdigit() or c in _DIGITS)
        if len(digits) < MIN_GROUPED_DIGITS or _DATE.match(whole):
            return whole
        return digits

    return _DIGIT_GROUPS.sub(join, text)


def inverse_normalize(text: str) -> str:
    """Spoken-form numerals → digits for numbers, dates, times, money and percentages.

    Never raises: a span that cannot be parsed is left as it was.
    """
    if not text:
        return text
    text = join_digit_groups(text)
    out: list[str] = []
    pos = 0
    for match in _NUMBER.finditer(text):
        out.append(text[pos : match.start()])
        try:
            out.append(_convert_number(match, text))
        except Exception:  # a bug here must never lose the transcript
            log.exception("ITN failed on %r", match.group(0))
            out.append(match.group(0))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def normalize_for_cer(text: str) -> str:
    """Text as ``../shared/eval/README.md`` scores it: NFKC, t2s, no punctuation or spaces."""
    text = to_simplified(unicodedata.normalize("NFKC", text))
    return "".join(
        ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in ("P", "S", "Z"))
    )


def utterance_cer(
    reference: str,
    hypothesis: str,
    normalize: Callable[[str], str] = normalize_for_cer,
) -> float:
    """CER of one utterance after ``normalize`` of both sides (jiwer).

    An empty normalised reference scores 0 against an empty hypothesis, else 1.
    """
    import jiwer

    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.cer(ref, hyp or " "))


def character_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus CER (jiwer) over normalised texts; empty references are skipped."""
    import jiwer

    pairs = [
        (normalize_for_cer(r), normalize_for_cer(h))
        for r, h in zip(references, hypotheses, strict=True)
    ]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        raise ValueError("no non-empty references to score")
    return float(jiwer.cer([r for r, _ in pairs], [h for _, h in pairs]))


_HALF_TO_FULL = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；"}
_CJK = r"[\u3400-\u9fff]"
_HALF_PUNCT_NEAR_CJK = re.compile(rf"(?<={_CJK})[,?!:;]|[,?!:;](?={_CJK})")


_CJK_SPACE = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")


def drop_cjk_spaces(text: str) -> str:
    """Remove spaces between two Chinese characters (kept between Latin words)."""
    return _CJK_SPACE.sub("", text)


def fullwidth_punctuation(text: str) -> str:
    """ASCII ``, ? ! : ;`` next to Chinese characters → full-width forms (，？！：；)."""
    return _HALF_PUNCT_NEAR_CJK.sub(lambda m: _HALF_TO_FULL[m.group(0)], text)


def finish_transcript(
    transcript: Transcript,
    *,
    itn: bool = False,
    punctuate: Callable[[str], str] | None = None,
) -> Transcript:
    """Apply the text pipeline to a transcript: t2s, optional punctuation, optional ITN.

    Segment texts get the same treatment (without punctuation restoration, which needs
    whole-sentence context); the transcript text is rebuilt from its own pipeline.
    """

    def seg_text(text: str) -> str:
        text = drop_cjk_spaces(fullwidth_punctuation(to_simplified(text)))
        return inverse_normalize(text) if itn else text

    text = drop_cjk_spaces(fullwidth_punctuation(to_simplified(transcript.text)))
    if punctuate is not None and text:
        text = punctuate(text)
    if itn:
        text = inverse_normalize(text)
    segments = tuple(replace(s, text=seg_text(s.text)) for s in transcript.segments)
    return replace(transcript, text=text, segments=segments)
