"""Symbol inventories (index order of the embedding rows) and the token encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.sambert_helpers import reference_dir
from tingshuo.tts.sambert import symbols
from tingshuo.tts.sambert.symbols import LinguisticTables, UnknownSymbolError


def test_tables_equal_reference_inventories() -> None:
    ref = json.loads((reference_dir() / "symbols.json").read_text())
    assert list(symbols.SY) == ref["sy"]
    assert list(symbols.TONES) == ref["tone"]
    assert list(symbols.SYLLABLE_FLAGS) == ref["syllable_flag"]
    assert list(symbols.WORD_SEGMENTS) == ref["word_segment"]
    assert list(symbols.EMO_CATEGORIES) == ref["emo_category"]
    assert list(LinguisticTables(["F7"]).speakers) == ref["speaker_category_F7"]
    six = ref["speaker_category_6spk"][:-3]
    assert list(LinguisticTables(six).speakers) == ref["speaker_category_6spk"]


def test_sizes_with_and_without_mask() -> None:
    tables = LinguisticTables(["F7"])
    assert tables.sizes() == {
        "sy": 147,
        "tone": 10,
        "syllable_flag": 8,
        "word_segment": 8,
        "emotion": 36,
        "speaker": 4,
    }
    assert tables.sizes(has_mask=False)["sy"] == 146
    tables.check_sizes({"sy": 146, "speaker": 4})
    with pytest.raises(ValueError, match="speaker table has 9 rows"):
        tables.check_sizes({"speaker": 9})


def test_golden_encoding() -> None:
    meta = json.loads((reference_dir() / "golden" / "golden_meta.json").read_text())
    enc = LinguisticTables(["F7"]).encode(meta["symbols"])
    assert enc.stack().tolist() == meta["encoded"]
    expected = np.load(reference_dir() / "golden" / "am_in_encoded_with_eos.npy")
    assert enc.stack().tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{zz_c$tone1$s_begin$word_begin$emotion_neutral$F7}", "sy symbol 'zz_c'"),
        ("{a_c$tone9$s_begin$word_begin$emotion_neutral$F7}", "tone symbol 'tone9'"),
        ("{a_c$tone1$s_begin$word_begin$emotion_joy$F7}", "emotion symbol 'emotion_joy'"),
        ("{a_c$tone1$s_begin$word_begin$emotion_neutral$M9}", "speaker symbol 'M9'"),
        ("{~$tone1$s_begin$word_begin$emotion_neutral$F7}", "reserved"),
        ("{a_c$tone1}", "2 fields"),
        ("a_c", "malformed"),
        ("", "empty"),
    ],
)
def test_unknown_values_are_errors(line: str, message: str) -> None:
    with pytest.raises(UnknownSymbolError, match=message):
        LinguisticTables(["F7"]).encode(line)
