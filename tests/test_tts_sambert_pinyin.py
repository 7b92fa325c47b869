"""Pinyin -> phone spelling (the full KAN-TTS py2phoneMap) and tone sandhi rules."""

from __future__ import annotations

import pytest

from tests.sambert_helpers import reference_dir
from tingshuo.tts.sambert.pinyin import (
    PinyinError,
    normalize_pinyin,
    syllable_phones,
    third_tone_sandhi,
    yi_bu_sandhi,
)


def test_every_map_entry_is_reproduced() -> None:
    lines = (reference_dir() / "pinyin_to_phone.tsv").read_text().splitlines()[1:]
    assert len(lines) == 661
    for line in lines:
        pinyin, phones = line.split("\t")
        assert " ".join(syllable_phones(pinyin)) == phones, pinyin


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("ju", "jv"), ("quan", "qvan"), ("xue", "xve"), ("yun", "yvn"), ("lü", "lv"), ("n", "en")],
)
def test_pypinyin_spellings_are_normalised(raw: str, norm: str) -> None:
    assert normalize_pinyin(raw) == norm


def test_unspellable_syllable_raises() -> None:
    with pytest.raises(PinyinError, match="'qq'"):
        syllable_phones("qq")


def test_third_tone_within_and_across_words() -> None:
    assert third_tone_sandhi([[3, 3]]) == [[2, 3]]  # 你好
    assert third_tone_sandhi([[3, 3, 3]]) == [[2, 2, 3]]  # 展览馆
    assert third_tone_sandhi([[3], [3], [3]]) == [[3], [2], [3]]  # 我 很 好
    assert third_tone_sandhi([[3], [3, 3]]) == [[3], [2, 3]]  # 我 所有 (所 already 2)
    assert third_tone_sandhi([[1, 3], [3, 4]]) == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("chars", "tones", "ends", "expected"),
    [
        ("一个", [1, 4], [False, True], [2, 4]),
        ("一天", [1, 1], [False, True], [4, 1]),
        ("一起", [1, 3], [False, True], [4, 3]),
        ("第一", [4, 1], [False, True], [4, 1]),
        ("统一", [3, 1], [False, True], [3, 1]),
        ("一百一十", [1, 3, 1, 2], [False, False, False, True], [1, 3, 1, 2]),
        ("看一看", [4, 1, 4], [False, False, True], [4, 5, 4]),
        ("不是", [4, 4], [False, True], [2, 4]),
        ("不好", [4, 3], [False, True], [4, 3]),
        ("好不好", [3, 4, 3], [False, False, True], [3, 5, 3]),
        ("一", [1], [True], [1]),
    ],
)
def test_yi_bu(chars: str, tones: list[int], ends: list[bool], expected: list[int]) -> None:
    assert yi_bu_sandhi(list(chars), tones, ends) == expected
