"""What was sent, played and heard of a reply."""

from __future__ import annotations

import pytest

from tingshuo.dialog.base import ReplyStyle
from tingshuo.dialog.reply_state import ActiveReply, ReplySegmenter, split_reply


def make() -> ActiveReply:
    r = ActiveReply(1, "您好。请稍等。", ReplyStyle(), "你好", None, 0.0)
    r.segments = [("您好。", 0.0, 1000.0), ("请稍等。", 1000.0, 2000.0)]
    r.synth_ms = 2000.0
    return r


def test_heard_text_whole_segments_then_time_prefix() -> None:
    r = make()
    assert r.heard_text(0) == ""
    assert r.heard_text(500) == "您"
    assert r.heard_text(1000) == "您好。"
    assert r.heard_text(1500) == "您好。请稍"
    assert r.heard_text(5000) == "您好。请稍等。"


def test_played_uses_report_capped_by_sent_else_real_time_estimate() -> None:
    r = make()
    assert r.played_ms() == 0.0
    r.on_sent(800.0)
    start = r.first_sent_at
    assert r.played_ms(now=start + 0.3) == pytest.approx(300.0)
    assert r.played_ms(now=start + 5.0) == 800.0
    r.client_played_ms = 2000.0
    assert r.played_ms() == 800.0
    r.client_played_ms = 100.0
    assert r.played_ms() == 100.0
    assert not r.playback_finished()


def test_split_reply_sentences() -> None:
    parts = split_reply("您好。请稍等，我帮您查一下！好的", 60)
    assert "".join(parts).replace(" ", "") == "您好。请稍等，我帮您查一下！好的"
    assert len(parts) >= 2


def test_split_reply_first_segment_is_a_short_clause() -> None:
    text = "非常抱歉给您带来了不便，退款审核通过后会在一到三个工作日内原路退回。银行卡可能需要三到七个工作日。"
    parts = split_reply(text, 60, first_chars=14)
    assert parts[0] == "非常抱歉给您带来了不便，"
    assert "".join(parts) == text and all(len(p) <= 60 for p in parts)
    assert split_reply(text, 60) == split_reply(text, 60, first_chars=0)
    # a first clause longer than the limit is cut between words, never inside one
    long_clause = split_reply("您可以在我的订单里找到这件商品然后点申请售后。", 60, first_chars=8)
    assert (
        len(long_clause[0]) <= 8
        and "".join(long_clause) == "您可以在我的订单里找到这件商品然后点申请售后。"
    )
    assert split_reply("好的。", 60, first_chars=14) == ["好的。"]


def _segment_stream(text: str, chunk: int, max_chars: int = 60, first: int = 14) -> list[str]:
    cutter = ReplySegmenter(max_chars, first)
    out: list[str] = []
    for i in range(0, len(text), chunk):
        out += cutter.feed(text[i : i + chunk])
        out += cutter.feed("")  # empty deltas are harmless
    return out + cutter.finish()


STREAM_TEXTS = [
    "非常抱歉给您带来了不便，退款审核通过后会在一到三个工作日内原路退回。银行卡可能需要三到七个工作日。",
    "您可以在我的订单里找到这件商品然后点申请售后。",
    "好的。",
    "好的，我来帮您查询一下订单的物流信息。请稍等！",
    "这是一个非常长的句子，它包含了很多很多的小分句，每一个分句都不算太长，但是合在一起就超过了"
    "六十个字符的限制，所以需要被切开来合成，否则第一段音频会来得很晚。",
]


@pytest.mark.parametrize("text", STREAM_TEXTS)
def test_stream_segments_match_split_reply_whatever_the_token_size(text: str) -> None:
    expected = split_reply(text, 60, first_chars=14)
    for chunk in (1, 2, 3, 7, len(text)):
        assert _segment_stream(text, chunk) == expected, chunk


def test_stream_first_segment_is_the_first_clause_and_punctuation_runs_stay_whole() -> None:
    text = "他说：“没问题。”然后就走了……真的吗？是的\n下一行"
    for chunk in (1, 2, len(text)):
        parts = _segment_stream(text, chunk)
        # the first clause, not split_reply's packing of clauses up to 14 characters
        assert parts == ["他说：", "“没问题。”", "然后就走了……", "真的吗？", "是的", "下一行"]
    assert split_reply(text, 60, 14)[0] == "他说：“没问题。”"


def test_stream_cuts_wait_for_the_text_after_a_boundary() -> None:
    cutter = ReplySegmenter(60, 14)
    assert cutter.feed("好的") == [] and cutter.feed("…") == []
    assert cutter.feed("…") == []  # the ellipsis may go on
    assert cutter.feed("”  ") == []  # closers and spaces join the run
    assert cutter.feed("我") == ["好的……”"]
    assert cutter.pending == "我"
    assert cutter.feed("查一下。") == []  # the sentence end is not confirmed yet
    assert cutter.finish() == ["我查一下。"]
    assert ReplySegmenter(60, 14).feed("，，好") == []  # no segment of punctuation alone


def test_stream_first_segment_without_punctuation_is_cut_between_words() -> None:
    cutter = ReplySegmenter(60, 8)
    out: list[str] = []
    for ch in "您可以在我的订单里找到这件商品":
        out += cutter.feed(ch)
    assert out and len(out[0]) <= 8
    rest = cutter.finish()
    assert "".join(out + rest) == "您可以在我的订单里找到这件商品"


def test_stream_segments_never_exceed_max_chars() -> None:
    text = "一二三四五六七八九十" * 3 + "，" + "甲乙丙丁戊己庚辛壬癸" * 4 + "。"
    for chunk in (1, 5, len(text)):
        parts = _segment_stream(text, chunk, max_chars=20, first=0)
        assert "".join(parts) == text
        assert all(len(p) <= 20 for p in parts), parts
