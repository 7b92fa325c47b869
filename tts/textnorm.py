"""Chinese text normalisation: digits, dates, times, money, %, phone numbers, units → hanzi.

Every synthesizer reads hanzi, so numbers and symbols are spelled out first. The rules
are ordered regular expressions (most specific first); ``cn2an`` does the actual
number → Chinese conversion (value reading ``an2cn(x, "low")`` or digit-by-digit
``"direct"``). Latin words are kept as they are (the G2P spells them); a separate
:func:`spell_latin` turns letters into names for backends that cannot read Latin.

Reading an integer as a value ("一千零二十四") or digit by digit ("一零二四") depends on
context: years, phone numbers, codes and long ids are read digit by digit; anything
followed by a measure word, unit or operator is read as a value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["normalize", "read_digits", "read_number", "spell_latin"]

_DIGITS = "零一二三四五六七八九"

# Units written after numbers (longest first in the regex). Values: the spoken form.
_UNITS: dict[str, str] = {
    "cm²": "平方厘米",
    "m²": "平方米",
    "km²": "平方公里",
    "cm³": "立方厘米",
    "m³": "立方米",
    "km/h": "公里每小时",
    "kg": "千克",
    "mg": "毫克",
    "km": "公里",
    "cm": "厘米",
    "mm": "毫米",
    "ml": "毫升",
    "mL": "毫升",
    "kb": "千字节",
    "KB": "千字节",
    "MB": "兆字节",
    "GB": "吉字节",
    "TB": "太字节",
    "Hz": "赫兹",
    "kHz": "千赫兹",
    "MHz": "兆赫兹",
    "GHz": "吉赫兹",
    "kW": "千瓦",
    "°C": "度",
    "℃": "度",
    "°F": "华氏度",
    "°": "度",
    "m": "米",
    "g": "克",
    "L": "升",
    "s": "秒",
    "h": "小时",
}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))

# Characters (or words) after a number that make it a quantity, read as a value.
_MEASURE_CHARS = set(
    "个只件条位名口岁毫厘微纳千兆年月日号天周时点分秒刻元块角毛钱圆美欧英镑万亿千百十米克斤两吨升度码寸尺"
    "里亩顷平立公倍次回遍趟场届期批层楼座栋棵株朵枝支双对副套张页本册部台辆架艘门匹头"
    "只颗粒滴杯瓶罐碗盘盒袋包箱斗桶人户家所间元种类项份段句行字笔票股手成折%"
    "加减乘除等多余来左上下以"
)
# Words before a number that make it a code read digit by digit.
_CODE_CONTEXT = re.compile(
    r"(编号|号码|电话|手机|热线|分辨率|尾号|代码|密码|验证码|型号|车次|航班|房间|工号|学号|邮编|账号|帐号|QQ|微信)[是为:：]?$"
)
_QUANTITY_BEFORE = set("共约有达超过第余近值额花费赚赔欠涨降增减")
_OPERATORS = "加减乘除+−×÷*/="
_LATIN_NAMES = {
    "A": "诶",
    "B": "必",
    "C": "西",
    "D": "迪",
    "E": "伊",
    "F": "艾弗",
    "G": "吉",
    "H": "艾尺",
    "I": "艾",
    "J": "杰",
    "K": "开",
    "L": "艾勒",
    "M": "艾马",
    "N": "艾娜",
    "O": "欧",
    "P": "批",
    "Q": "吉吾",
    "R": "艾儿",
    "S": "艾丝",
    "T": "提",
    "U": "优",
    "V": "维",
    "W": "达布溜",
    "X": "艾克斯",
    "Y": "歪",
    "Z": "贼德",
}


def read_digits(digits: str) -> str:
    """Read a digit string one digit at a time: ``"10086"`` → ``"一零零八六"``."""
    return "".join(_DIGITS[int(d)] for d in digits if d.isdigit())


def read_number(text: str) -> str:
    """Read an integer or decimal as a value: ``"40001.987"`` → ``"四万零一点九八七"``.

    Trailing zeros after the point are not spoken (``"14.60"`` → ``"十四点六"``) and a
    bare leading point is read as zero (``".22"`` → ``"零点二二"``).
    """
    import cn2an

    neg = text.startswith(("-", "负"))
    body = text.lstrip("-负").replace(",", "")
    if body.startswith("."):
        body = "0" + body
    if "." in body:
        body = body.rstrip("0").rstrip(".")
    if not body:
        body = "0"
    intpart, _, frac = body.partition(".")
    intpart = intpart.lstrip("0") or "0"
    if len(intpart) > 16:  # beyond 亿亿: read as digits
        spoken = read_digits(intpart) + ("点" + read_digits(frac) if frac else "")
    else:
        spoken = cn2an.an2cn(intpart + ("." + frac if frac else ""), "low")
    return ("负" if neg else "") + spoken


def spell_latin(text: str) -> str:
    """Spell runs of capital Latin letters by their Chinese letter names (``"VIP"`` → ``"维艾批"``)."""
    return re.sub(r"[A-Z]", lambda m: _LATIN_NAMES[m.group()], text)


def _year(y: str) -> str:
    return read_digits(y) + "年"


def _date_ymd(m: re.Match[str]) -> str:
    y, mo, d = m.group("y"), m.group("mo"), m.group("d")
    return f"{_year(y)}{read_number(mo)}月{read_number(d)}日"


def _time(m: re.Match[str]) -> str:
    h, mi = int(m.group("h")), m.group("mi")
    sec = m.groupdict().get("s")
    out = f"{read_number(str(h))}点"
    if int(mi) == 0 and not sec:
        return out
    out += (
        ("零" if mi.startswith("0") and mi != "00" else "")
        + read_number(mi.lstrip("0") or "0")
        + "分"
    )
    if sec:
        out += read_number(sec.lstrip("0") or "0") + "秒"
    return out


def _colon_pair(m: re.Match[str]) -> str:
    """``hh:mm`` is a clock time unless it is a score (context or impossible time)."""
    before = m.string[max(0, m.start() - 6) : m.start()]
    h, mi = int(m.group("h")), int(m.group("mi"))
    if "比" in before or "比分" in before or h > 24 or mi > 59 or len(m.group("mi")) != 2:
        return f"{read_number(m.group('h'))}比{read_number(m.group('mi'))}"
    return _time(m)


def _fraction(m: re.Match[str]) -> str:
    return f"{read_number(m.group('den'))}分之{read_number(m.group('num'))}"


def _percent(m: re.Match[str]) -> str:
    return "百分之" + read_number(m.group("n"))


def _temperature(m: re.Match[str]) -> str:
    n = m.group("n")
    prefix = "零下" if n.startswith("-") else ""
    return prefix + read_number(n.lstrip("-")) + _UNITS[m.group("u")]


def _unit(m: re.Match[str]) -> str:
    return read_number(m.group("n")) + _UNITS[m.group("u")]


def _range(m: re.Match[str]) -> str:
    return f"{read_number(m.group('a'))}到{read_number(m.group('b'))}"


def _phone(m: re.Match[str]) -> str:
    return read_digits(m.group())


def _integer(m: re.Match[str]) -> str:
    """A bare integer: value or digit-by-digit depending on what surrounds it."""
    digits = m.group()
    text = m.string
    before = text[: m.start()]
    after = text[m.end() : m.end() + 2]
    nxt = after[:1]
    prev = before[-1:] if before else ""
    if _CODE_CONTEXT.search(before[-8:]):
        return read_digits(digits)
    if nxt == "年" and len(digits) in (2, 4):
        return read_digits(digits)
    if len(digits) == 1 or (digits.startswith("0") and len(digits) > 1):
        return read_digits(digits) if digits.startswith("0") else read_number(digits)
    if prev and prev in _QUANTITY_BEFORE:
        return read_number(digits)
    if nxt and (nxt in _MEASURE_CHARS or nxt in _OPERATORS) or prev and prev in _OPERATORS:
        return read_number(digits)
    if len(digits) <= 2:
        return read_number(digits)
    if nxt and re.match(r"[A-Za-z]", nxt):  # 10GB handled by units; 3D, 4K …
        return read_number(digits)
    return read_digits(digits)  # codes, ids, long numbers with nothing to count


_CURRENCY = {
    "¥": "元",
    "￥": "元",
    "$": "美元",
    "US$": "美元",
    "€": "欧元",
    "£": "英镑",
    "HK$": "港元",
}


def _money(m: re.Match[str]) -> str:
    return read_number(m.group("n")) + _CURRENCY[m.group("c")]


# (pattern, replacement) in order of application.
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # currency signs before amounts: ￥25.5, $3, €1,200
    (re.compile(r"(?P<c>US\$|HK\$|[¥￥$€£])\s?(?P<n>\d+(?:,\d{3})*(?:\.\d+)?)"), _money),
    # phone numbers: +86 138…, 0421-33441122, 400-800-1234, bare mobile numbers
    (re.compile(r"\+?86[ -]?1[3-9]\d{9}(?!\d)"), _phone),
    (re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"), _phone),
    (re.compile(r"(?<!\d)[48]00-?\d{3}-?\d{4}(?!\d)"), _phone),
    (re.compile(r"(?<![\d.])1[3-9]\d{9}(?!\d)"), _phone),
    # dates: 2020/03/31, 2020-03-31, 2020.03.31
    (
        re.compile(
            r"(?<!\d)(?P<y>\d{4})(?P<sep>[/\-.])(?P<mo>0?[1-9]|1[0-2])(?P=sep)(?P<d>0?[1-9]|[12]\d|3[01])(?!\d)"
        ),
        _date_ymd,
    ),
    # times and scores: 8:00, 12:05:30, 17:16
    (re.compile(r"(?<![\d:])(?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2})(?![\d:])"), _time),
    (re.compile(r"(?<![\d:.])(?P<h>\d{1,2})[:：](?P<mi>\d{1,2})(?![\d:])"), _colon_pair),
    # percentages, fractions, temperatures, ranges, units
    (re.compile(r"(?P<n>-?\d+(?:\.\d+)?|\.\d+)\s?[%％]"), _percent),
    (re.compile(r"(?<![\d/])(?P<num>\d+)/(?P<den>\d+)(?![\d/])"), _fraction),
    (re.compile(r"(?P<n>-?\d+(?:\.\d+)?)\s?(?P<u>°C|℃|°F)"), _temperature),
    (
        re.compile(r"(?<![\d.])(?P<a>\d+(?:\.\d+)?)\s?[~～\-—－]\s?(?P<b>\d+(?:\.\d+)?)(?![\d.])"),
        _range,
    ),
    (
        re.compile(rf"(?P<n>\d+(?:\.\d+)?)\s?(?P<u>{_UNIT_RE})(?![A-Za-z])"),
        _unit,
    ),
    # decimals (incl. ".22"), signed numbers, then bare integers
    (re.compile(r"(?<![\d.])-(?=\d)"), lambda m: "负"),
    (re.compile(r"(?<![\d])\d*\.\d+"), lambda m: read_number(m.group())),
    (re.compile(r"(?<!\d)\d{1,3}(?:,\d{3})+(?!\d)"), lambda m: read_number(m.group())),
    (re.compile(r"\d+"), _integer),
]

# full-width digits, letters and number signs folded to ASCII (other punctuation is kept)
_FOLD = {
    ch: unicodedata.normalize("NFKC", ch)
    for ch in "０１２３４５６７８９％＋－：．"
    + "".join(chr(c) for c in range(0xFF21, 0xFF3B))
    + "".join(chr(c) for c in range(0xFF41, 0xFF5B))
}
_SYMBOLS = {"&": "和", "＆": "和", "@": "艾特", "#": "井号", "＃": "井号", "+": "加", "＋": "加"}


def normalize(text: str) -> str:
    """Spell out numbers, dates, times, money, percentages, phone numbers and units in hanzi.

    Punctuation, hanzi and Latin words are kept; full-width digits are folded first.
    ``normalize("事情发生在2020/03/31的上午8:00.")`` →
    ``"事情发生在二零二零年三月三十一日的上午八点."``
    """
    text = "".join(_FOLD.get(ch, ch) for ch in text)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return re.sub(r"[&＆@＃+＋](?=\S)", lambda m: _SYMBOLS[m.group()], text)
