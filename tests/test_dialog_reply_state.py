"""What was sent, played and heard of a reply."""

from __future__ import annotations

import pytest

from tingshuo.dialog.base import ReplyStyle
from tingshuo.dialog.reply_state import ActiveReply, split_reply


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
