"""tts.textnorm: rules on their own, and sentence accuracy on the 127 PaddleSpeech cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.tts.textnorm import normalize, read_digits, read_number, spell_latin


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("今天是2019年1月31号", "今天是二零一九年一月三十一号"),
        ("事情发生在2020/03/31的上午8:00.", "事情发生在二零二零年三月三十一日的上午八点."),
        ("等会请在12:05请通知我", "等会请在十二点零五分请通知我"),
        ("2023年10月1日上午10:30:15", "二零二三年十月一日上午十点三十分十五秒"),
        ("比分测试37:16", "比分测试三十七比十六"),
        ("环比上调1.86%", "环比上调百分之一点八六"),
        ("现场有7/12的观众", "现场有十二分之七的观众"),
        ("余额为负14.60元", "余额为负十四点六元"),
        ("价格是￥25.5", "价格是二十五点五元"),
        ("花了$1,200", "花了一千二百美元"),
        ("请问你是电话13985608526的机主吗", "请问你是电话一三九八五六零八五二六的机主吗"),
        ("这是固话0421-33441122", "这是固话零四二一三三四四一一二二"),
        ("这是手机+86 18544139121", "这是手机八六一八五四四一三九一二一"),
        ("今天的最低气温达到-10°C.", "今天的最低气温达到零下十度."),
        ("身高是153.5cm", "身高是一百五十三点五厘米"),
        ("25cm²", "二十五平方厘米"),
        ("12~23", "十二到二十三"),
        ("1234个人", "一千二百三十四个人"),
        ("编号27149", "编号二七一四九"),
        ("123加456", "一百二十三加四百五十六"),
        ("ＧＤＰ增长６．５％", "GDP增长百分之六点五"),
        ("不管三七二十一", "不管三七二十一"),
        ("iPad Pro支持5G", "iPad Pro支持五G"),
    ],
)
def test_rules(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_number_readers() -> None:
    assert read_number("40001.987") == "四万零一点九八七"
    assert read_number(".22") == "零点二二"
    assert read_number("36.00") == "三十六"
    assert read_number("-3") == "负三"
    assert read_digits("10086") == "一零零八六"
    assert spell_latin("VIP") == "维艾批"


def test_text_without_numbers_is_unchanged() -> None:
    text = "您好，请问有什么可以帮您？for english press star key"
    assert normalize(text) == text


def test_sentence_accuracy_on_shared_cases(shared: Path) -> None:
    cases = (shared / "eval" / "tts-text" / "textnorm_test_cases.txt").read_text(encoding="utf-8")
    pairs = [line.split("|", 1) for line in cases.splitlines() if "|" in line]
    assert len(pairs) == 127
    correct = sum(normalize(raw) == ref for raw, ref in pairs)
    assert correct / len(pairs) >= 0.90, f"{correct}/{len(pairs)}"
