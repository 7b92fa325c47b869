"""Text post-processing: t2s, ITN of numbers/dates/money, CER normalisation."""

from __future__ import annotations

import pytest

from tingshuo.asr.base import Segment, Transcript
from tingshuo.asr.textproc import (
    character_error_rate,
    drop_cjk_spaces,
    finish_transcript,
    fullwidth_punctuation,
    inverse_normalize,
    normalize_for_cer,
    to_simplified,
)


def test_traditional_to_simplified() -> None:
    assert to_simplified("這是一個測試，歡迎來體驗語音識別") == "这是一个测试，欢迎来体验语音识别"


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("二零二四年五月一日", "2024年5月1日"),
        ("今天是三月十五号", "今天是3月15号"),
        ("三百五十块钱", "350块钱"),
        ("一百二十三点五元", "123.5元"),
        ("价格是二十五块三毛", "价格是25块3毛"),
        ("百分之五十", "50%"),
        ("百分之三点五", "3.5%"),
        ("两千块", "2000块"),
        ("十二个人", "12个人"),
        ("十点半见", "10点半见"),
        ("打电话给幺三八零零一三八零零零", "打电话给13800138000"),
        ("一九九八年", "1998年"),
    ],
)
def test_itn_converts_numbers_dates_money(spoken: str, written: str) -> None:
    assert inverse_normalize(spoken) == written


@pytest.mark.parametrize(
    "text",
    ["一些人说一下", "万一他来了", "我有一点点钱", "第一名", "一个人", "星期一", "三三两两", ""],
)
def test_itn_leaves_words_alone(text: str) -> None:
    assert inverse_normalize(text) == text


def _spoken_numbers() -> list[tuple[str, str]]:
    import csv

    from tingshuo.core.paths import repo_root

    path = repo_root() / "benchmarks" / "data" / "spoken_numbers.tsv"
    with path.open(encoding="utf-8") as f:
        return [(r["spoken"], r["written"]) for r in csv.DictReader(f, delimiter="\t")]


@pytest.mark.parametrize(("spoken", "written"), _spoken_numbers())
def test_itn_on_the_spoken_numbers_set(spoken: str, written: str) -> None:
    """Digit strings, phone and order numbers stay whole; words and dates stay as they are."""
    assert inverse_normalize(spoken) == written


def test_itn_never_raises_on_odd_input() -> None:
    weird = "十十十百千万亿点点 零点 百分之 🙂 abc 123"
    assert isinstance(inverse_normalize(weird), str)


def test_normalize_for_cer_matches_eval_readme() -> None:
    # NFKC (full-width letters/digits), t2s, punctuation and spaces removed
    assert (
        normalize_for_cer("希望你以後能夠 做的比我還好呦。ＡＢ１２！")
        == "希望你以后能够做的比我还好呦AB12"
    )


def test_character_error_rate_uses_normalised_text() -> None:
    assert character_error_rate(["你好，世界"], ["你好 世界。"]) == 0.0
    assert character_error_rate(["你好世界"], ["你好世"]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        character_error_rate(["。"], ["x"])


def test_spaces_between_chinese_characters_are_dropped() -> None:
    assert drop_cjk_spaces("好 首先说一下 OK 吧") == "好首先说一下 OK 吧"
    assert finish_transcript(Transcript("好 首先")).text == "好首先"


def test_fullwidth_punctuation_only_next_to_chinese() -> None:
    assert fullwidth_punctuation("你好,世界?") == "你好，世界？"
    assert fullwidth_punctuation("hello, world") == "hello, world"


def test_finish_transcript_applies_pipeline() -> None:
    raw = Transcript("我買了三百五十塊的東西", (Segment(0.0, 1.0, "我買了三百五十塊的東西"),))
    out = finish_transcript(raw, itn=True, punctuate=lambda t: t + "。")
    assert out.text == "我买了350块的东西。"
    assert out.segments[0].text == "我买了350块的东西"
    assert finish_transcript(raw).text == "我买了三百五十块的东西"
