"""tts.segment: sentence → clause → word splitting, never inside a jieba word."""

from __future__ import annotations

import pytest

from tingshuo.tts.segment import split_sentences, split_text


def test_sentences_first() -> None:
    assert split_text("你好。今天天气很好，我们去公园散步吧！", 8) == [
        "你好。",
        "今天天气很好，",
        "我们去公园散步吧！",
    ]


def test_short_text_is_one_segment() -> None:
    assert split_text("今天天气很好，我们去公园散步吧！", 60) == [
        "今天天气很好，我们去公园散步吧！"
    ]


def test_clauses_are_packed_up_to_the_limit() -> None:
    segs = split_text("一二，三四，五六，七八。", 6)
    assert segs == ["一二，三四，", "五六，七八。"]
    assert all(len(s) <= 6 for s in segs)


def test_closing_quote_stays_with_its_sentence() -> None:
    assert split_text("他说：“我们走吧。”然后离开了。", 60)[0] == "他说：“我们走吧。”"


def test_long_clause_cut_at_word_boundaries() -> None:
    import jieba

    text = "中华人民共和国成立于一九四九年十月一日北京天安门广场举行了盛大的开国大典"
    segs = split_text(text, 12)
    assert "".join(segs) == text
    assert all(len(s) <= 12 for s in segs)
    words = jieba.lcut(text)
    boundaries = {0}
    pos = 0
    for w in words:
        pos += len(w)
        boundaries.add(pos)
    pos = 0
    for s in segs:
        pos += len(s)
        assert pos in boundaries, f"cut inside a word at {pos}: {segs}"


def test_punctuation_never_starts_a_segment() -> None:
    for seg in split_text("我们去公园散步吧！好的，走吧。", 8):
        assert seg[0] not in "！，。"


def test_blank_and_bad_limit() -> None:
    assert split_text("  \n ", 10) == []
    assert split_sentences("甲。乙！\n丙") == ["甲。", "乙！", "丙"]
    with pytest.raises(ValueError):
        split_text("你好", 0)
