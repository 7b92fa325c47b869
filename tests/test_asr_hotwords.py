"""The sound-alike check that decides when hotwords bias a re-decode (no model needed)."""

from __future__ import annotations

import pytest

from tingshuo.asr.hotwords import hotwords_heard, sounds_like, syllables

HOTWORDS = "云朵记忆枕 极光降噪耳机 价保 运费险"


def test_syllables_are_toneless_pinyin_of_chinese_only() -> None:
    assert syllables("云朵 abc 12枕") == ("yun", "duo", "zhen")


@pytest.mark.parametrize(
    ("heard", "word"),
    [
        # Whisper's plain decodes of the domain set (benchmarks/results/asr_domain.md)
        ("激光将造耳机左耳没有声音", "极光降噪耳机"),
        ("我想查一下云朵，急意整的，顶单到拿了。", "云朵记忆枕"),
        ("暖阳电肉弹将加了能申请加宝吗？", "价保"),
    ],
)
def test_misrecognised_terms_sound_like_the_hotword(heard: str, word: str) -> None:
    assert sounds_like(heard, word)


@pytest.mark.parametrize(
    "general",
    [
        "甚至出现交易几乎停滞的情况",
        "我认为跑步最重要的就是给我带来了身体健康",
        "欢迎大家来体验达摩院推出的语音识别模型",
        "",
    ],
)
def test_general_speech_triggers_nothing(general: str) -> None:
    assert hotwords_heard(general, HOTWORDS) == []


def test_two_syllable_words_need_every_syllable() -> None:
    assert sounds_like("能申请加宝吗", "价保")
    assert not sounds_like("能申请加班吗", "价保")
