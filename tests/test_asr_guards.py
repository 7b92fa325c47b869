"""Repetition / hallucination guard (pure logic, no model)."""

from __future__ import annotations

from tingshuo.asr.config import GuardConfig
from tingshuo.asr.guards import (
    FLAG_HALLUCINATION,
    FLAG_PROMPT_ECHO,
    FLAG_REPETITION,
    DecodedSegment,
    compression_ratio,
    find_loop,
    guard_segments,
    is_credit_phrase,
    truncate_loops,
)


def test_loops_are_found_and_truncated() -> None:
    assert truncate_loops("我想问" + "5 " * 30) == ("我想问5 ", True)
    text, changed = truncate_loops("谢谢大家" * 6 + "再见")
    assert (text, changed) == ("谢谢大家再见", True)


def test_natural_repetition_is_kept() -> None:
    for text in ("你好你好", "哈哈哈哈哈", "对对对", "好好学习天天向上", "谢谢谢谢"):
        assert find_loop(text) is None
        assert truncate_loops(text) == (text, False)


def test_thresholds_are_configurable() -> None:
    strict = GuardConfig(min_repeats=2)
    assert truncate_loops("你好你好", strict) == ("你好", True)


def test_compression_ratio_flags_repetitive_text() -> None:
    assert compression_ratio("5 " * 40) > 2.4
    assert compression_ratio("欢迎大家来体验达摩院推出的语音识别模型") < 2.4
    assert compression_ratio("") == 0.0


def test_low_confidence_non_speech_segment_is_dropped() -> None:
    segs = [
        DecodedSegment(0, 1, "证刷", avg_logprob=-1.8, no_speech_prob=0.57),
        DecodedSegment(1, 2, "你好世界", avg_logprob=-0.3, no_speech_prob=0.05),
    ]
    kept, flags = guard_segments(segs)
    assert [s.text for s in kept] == ["你好世界"]
    assert flags == (FLAG_HALLUCINATION,)


def test_subtitle_credit_hallucinations_are_dropped() -> None:
    assert is_credit_phrase("字幕由Amara.org社区提供")
    assert is_credit_phrase("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目")
    assert not is_credit_phrase("我想订一张去北京的票")
    kept, flags = guard_segments([DecodedSegment(0, 3, "字幕由Amara.org社区提供")])
    assert kept == [] and flags == (FLAG_HALLUCINATION,)


def test_looping_segment_is_truncated_and_flagged() -> None:
    kept, flags = guard_segments([DecodedSegment(0, 5, "我们" + "走吧走吧" * 10, -0.4, 0.1)])
    assert kept[0].text == "我们走吧"
    assert flags == (FLAG_REPETITION,)


def test_prompt_echo_is_dropped() -> None:
    kept, flags = guard_segments(
        [DecodedSegment(0, 1, "达摩院，语音识别。")], prompt="达摩院 语音识别"
    )
    assert kept == [] and flags == (FLAG_PROMPT_ECHO,)
