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
