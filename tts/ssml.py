"""A small SSML subset: ``<speak>``, ``<break>``, ``<emotion>``, ``<prosody>``.

Markup is parsed with defusedxml (the stdlib ElementTree parser hardened against entity
expansion and external entities — SSML arrives from network clients). Any problem is an
:class:`~tts.base.SSMLError` naming the element or attribute. Text that does not start
with ``<`` is plain text and is not parsed.

Supported (attribute forms follow W3C SSML 1.1 and Alibaba/Sambert's ``<emotion>``):

- ``<speak>`` root (required for markup);
- ``<break time="500ms"|"1.2s"/>`` or ``<break strength="none|x-weak|weak|medium|strong|x-strong"/>``;
- ``<emotion category="happy" intensity="1.5">`` — canonical emotions, intensity 0–2;
- ``<prosody rate="1.2|120%|+20%|slow|fast" pitch="+2st|-10%|high|low" volume="+6dB|loud|0.5">``.

``<p>`` and ``<s>`` are accepted as sentence containers (a sentence pause follows them).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from tingshuo.core.emotions import UnknownEmotionError, check_intensity, parse_emotion
from tingshuo.tts.base import SSMLError, Style

__all__ = ["TextPiece", "BreakPiece", "Piece", "parse", "is_ssml"]

MAX_BREAK_MS = 10_000
_STRENGTH_MS = {
    "none": 0,
    "x-weak": 100,
    "weak": 200,
    "medium": 400,
    "strong": 700,
    "x-strong": 1200,
}
_RATE_WORDS = {
    "x-slow": 0.6,
    "slow": 0.8,
    "medium": 1.0,
    "default": 1.0,
    "fast": 1.25,
    "x-fast": 1.5,
}
_PITCH_WORDS = {
    "x-low": -4.0,
    "low": -2.0,
    "medium": 0.0,
    "default": 0.0,
    "high": 2.0,
    "x-high": 4.0,
}
_VOLUME_WORDS = {
    "silent": 0.0,
    "x-soft": 0.35,
    "soft": 0.6,
    "medium": 1.0,
    "default": 1.0,
    "loud": 1.4,
    "x-loud": 2.0,
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"


@dataclass(frozen=True)
class TextPiece:
    """Text to speak in ``style``."""

    text: str
    style: Style


@dataclass(frozen=True)
class BreakPiece:
    """Silence of ``ms`` milliseconds."""

    ms: int


Piece = TextPiece | BreakPiece


def is_ssml(text: str) -> bool:
    """Whether ``text`` is markup (starts with ``<`` after whitespace)."""
    return text.lstrip().startswith("<")


def _duration_ms(value: str) -> int:
    m = re.fullmatch(rf"\s*({_NUMBER})\s*(ms|s)\s*", value)
    if not m:
        raise SSMLError(f'<break time="{value}">: expected a duration such as "500ms" or "1.5s"')
    ms = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
    if not 0 <= ms <= MAX_BREAK_MS:
        raise SSMLError(f'<break time="{value}">: must be between 0 and {MAX_BREAK_MS} ms')
    return int(round(ms))


def _rate(value: str) -> float:
    v = value.strip().lower()
    if v in _RATE_WORDS:
        return _RATE_WORDS[v]
    if m := re.fullmatch(rf"({_NUMBER})%", v):
        n = float(m.group(1))
        return 1 + n / 100 if v.startswith(("+", "-")) else n / 100
    if re.fullmatch(_NUMBER, v):
        return float(v)
    raise SSMLError(f'<prosody rate="{value}">: expected a factor (1.2), a percentage or slow/fast')


def _pitch(value: str) -> float:
    """Semitones."""
    v = value.strip().lower()
    if v in _PITCH_WORDS:
        return _PITCH_WORDS[v]
    if m := re.fullmatch(rf"({_NUMBER})st", v):
        return float(m.group(1))
    if m := re.fullmatch(rf"({_NUMBER})%", v):
        factor = 1 + float(m.group(1)) / 100
        if factor <= 0:
            raise SSMLError(f'<prosody pitch="{value}">: percentage must stay above -100%')
        return 12 * math.log2(factor)
    if m := re.fullmatch(rf"({_NUMBER})hz", v):
        raise SSMLError(f'<prosody pitch="{value}">: absolute Hz is not supported; use st or %')
    raise SSMLError(
        f'<prosody pitch="{value}">: expected semitones ("+2st"), a percentage or low/high'
    )


def _volume(value: str) -> float:
    """Linear gain."""
    v = value.strip().lower()
    if v in _VOLUME_WORDS:
        return _VOLUME_WORDS[v]
    if m := re.fullmatch(rf"({_NUMBER})db", v):
        return 10 ** (float(m.group(1)) / 20)
    if m := re.fullmatch(rf"({_NUMBER})%", v):
        n = float(m.group(1))
        return 1 + n / 100 if v.startswith(("+", "-")) else n / 100
    if re.fullmatch(_NUMBER, v):
        return float(v)
    raise SSMLError(f'<prosody volume="{value}">: expected dB ("+6dB"), a factor or soft/loud')


def _check_attrs(tag: str, attrib: dict[str, str], allowed: set[str]) -> None:
    extra = set(attrib) - allowed
    if extra:
        raise SSMLError(
            f"<{tag}>: unsupported attribute(s) {sorted(extra)}; allowed: {sorted(allowed)}"
        )


def _restyle(tag: str, attrib: dict[str, str], style: Style) -> Style:
    if tag == "emotion":
        _check_attrs(tag, attrib, {"category", "intensity"})
        if "category" not in attrib:
            raise SSMLError('<emotion> needs a category attribute, e.g. category="happy"')
        try:
            emotion = parse_emotion(attrib["category"])
            intensity = check_intensity(float(attrib.get("intensity", "1")))
        except UnknownEmotionError as exc:
            raise SSMLError(f"<emotion>: {exc}") from None
        except ValueError as exc:
            raise SSMLError(f"<emotion intensity={attrib.get('intensity')!r}>: {exc}") from None
        return dataclasses.replace(style, emotion=emotion, intensity=intensity)
    _check_attrs(tag, attrib, {"rate", "pitch", "volume"})
    rate = style.rate * _rate(attrib["rate"]) if "rate" in attrib else style.rate
    pitch = style.pitch + _pitch(attrib["pitch"]) if "pitch" in attrib else style.pitch
    volume = style.volume * _volume(attrib["volume"]) if "volume" in attrib else style.volume
    if volume < 0:
        raise SSMLError(f"<prosody volume={attrib.get('volume')!r}>: volume cannot be negative")
    try:
        return dataclasses.replace(style, rate=rate, pitch=pitch, volume=volume)
    except ValueError as exc:
        raise SSMLError(f"<prosody>: {exc}") from None


def _break_ms(elem) -> int:  # noqa: ANN001 - ElementTree element
    _check_attrs("break", elem.attrib, {"time", "strength"})
    if (elem.text or "").strip() or len(elem):
        raise SSMLError("<break> must be empty")
    if "time" in elem.attrib:
        return _duration_ms(elem.attrib["time"])
    strength = elem.attrib.get("strength", "medium")
    if strength not in _STRENGTH_MS:
        raise SSMLError(f'<break strength="{strength}">: expected one of {list(_STRENGTH_MS)}')
    return _STRENGTH_MS[strength]


def _walk(elem, style: Style, out: list[Piece]) -> None:  # noqa: ANN001
    """Append ``elem``'s pieces; each child's tail text is spoken in ``elem``'s style."""
    tag = elem.tag
    if tag == "break":
        out.append(BreakPiece(_break_ms(elem)))
        return
    if tag in ("emotion", "prosody"):
        style = _restyle(tag, dict(elem.attrib), style)
    elif tag not in ("speak", "p", "s"):
        raise SSMLError(
            f"unsupported SSML element <{tag}>; supported: speak, break, emotion, prosody, p, s"
        )
    if elem.text and elem.text.strip():
        out.append(TextPiece(elem.text.strip(), style))
    for child in elem:
        _walk(child, style, out)
        if child.tail and child.tail.strip():
            out.append(TextPiece(child.tail.strip(), style))
    if tag in ("p", "s"):
        out.append(BreakPiece(_STRENGTH_MS["strong"]))


def parse(text: str, style: Style | None = None) -> list[Piece]:
    """Text or SSML → pieces of text (each with its style) and breaks, in order.

    Plain text (not starting with ``<``) is one :class:`TextPiece` in ``style``.
    Raises :class:`~tts.base.SSMLError` for malformed or unsupported markup.
    """
    style = style or Style()
    if not is_ssml(text):
        return [TextPiece(text.strip(), style)] if text.strip() else []
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        root = DET.fromstring(text.strip())
    except ParseError as exc:
        raise SSMLError(f"malformed SSML: {exc}") from None
    except DefusedXmlException as exc:
        raise SSMLError(f"forbidden SSML construct: {exc}") from None
    # strip a namespace such as {http://www.w3.org/2001/10/synthesis}
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    if root.tag != "speak":
        raise SSMLError(f"SSML must have a <speak> root element, got <{root.tag}>")
    out: list[Piece] = []
    _walk(root, style, out)
    return out
