"""tts.ssml: the supported subset parses into styled pieces; bad markup is a clear SSMLError."""

from __future__ import annotations

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.tts.base import SSMLError, Style
from tingshuo.tts.ssml import BreakPiece, TextPiece, is_ssml, parse


def test_plain_text_is_one_piece() -> None:
    assert parse("你好") == [TextPiece("你好", Style())]
    assert parse("   ") == []
    assert not is_ssml("你好<b>")


def test_emotion_prosody_break_nesting() -> None:
    pieces = parse(
        '<speak>你好<break time="500ms"/>'
        '<emotion category="happy" intensity="1.5">今天<prosody rate="slow" pitch="+2st" volume="+6dB">'
        "真好</prosody>啊</emotion>。再见</speak>"
    )
    assert pieces[0] == TextPiece("你好", Style())
    assert pieces[1] == BreakPiece(500)
    happy = Style(emotion=Emotion.HAPPY, intensity=1.5)
    assert pieces[2] == TextPiece("今天", happy)
    inner = pieces[3]
    assert isinstance(inner, TextPiece) and inner.text == "真好"
    assert inner.style.emotion is Emotion.HAPPY
    assert inner.style.rate == pytest.approx(0.8)
    assert inner.style.pitch == pytest.approx(2.0)
    assert inner.style.volume == pytest.approx(10 ** (6 / 20))
    assert pieces[4] == TextPiece("啊", happy)  # tail of <prosody> is back in <emotion>'s style
    assert pieces[5] == TextPiece("。再见", Style())  # tail of <emotion> is neutral again


def test_attribute_forms() -> None:
    (p,) = parse('<speak><prosody rate="120%" pitch="-10%">x</prosody></speak>')
    assert p.style.rate == pytest.approx(1.2)
    assert p.style.pitch == pytest.approx(-1.824, abs=1e-3)
    (b,) = parse('<speak><break strength="strong"/></speak>')
    assert b == BreakPiece(700)
    (b,) = parse('<speak><break time="1.5s"/></speak>')
    assert b == BreakPiece(1500)
    ns = parse('<speak xmlns="http://www.w3.org/2001/10/synthesis" version="1.1">好</speak>')
    assert ns == [TextPiece("好", Style())]


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("<speak>a", "malformed SSML"),
        ("<voice>x</voice>", "<speak> root"),
        ("<speak>a<foo/></speak>", "unsupported SSML element <foo>"),
        ('<speak><emotion category="joyful">x</emotion></speak>', "unknown emotion 'joyful'"),
        ('<speak><emotion category="sad" intensity="3">x</emotion></speak>', "intensity"),
        ("<speak><emotion>x</emotion></speak>", "needs a category"),
        ('<speak><break time="abc"/></speak>', "expected a duration"),
        ('<speak><break time="99s"/></speak>', "between 0 and"),
        ('<speak><break strength="huge"/></speak>', "strength"),
        ('<speak><prosody rate="0.01">x</prosody></speak>', "rate must be in"),
        ('<speak><prosody pitch="200Hz">x</prosody></speak>', "absolute Hz"),
        ('<speak><prosody speed="2">x</prosody></speak>', "unsupported attribute"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><speak>&a;</speak>', "forbidden"),
    ],
)
def test_bad_markup(markup: str, message: str) -> None:
    with pytest.raises(SSMLError, match=message):
        parse(markup)
