"""Front end: hand-checked token sequences (io_contract §2 rules) and unknown-symbol errors."""

from __future__ import annotations

import json

import pytest

from tests.sambert_helpers import reference_dir
from tingshuo.tts.sambert.frontend import Frontend, render_tokens
from tingshuo.tts.sambert.symbols import LinguisticTables, UnknownSymbolError


@pytest.fixture(scope="module")
def fe() -> Frontend:
    return Frontend()


def rows(line: str) -> list[tuple[str, ...]]:
    """Token line -> (sy, tone, syllable_flag, word_segment) rows, dropping emotion/speaker."""
    return [tuple(t.strip("{}").split("$")[:4]) for t in line.split()]


def P(sy: str, tone: str, sf: str, ws: str) -> tuple[str, ...]:  # noqa: N802
    return (sy, f"tone{tone}" if tone != "none" else "tone_none", sf, ws)


def brk(level: int) -> tuple[str, ...]:
    return (f"#{level}", "tone_none", "s_none", "word_none")


def one_syllable_word(ini: str, fin: str, tone: int) -> list[tuple[str, ...]]:
    return [P(ini, str(tone), "s_begin", "word_begin"), P(fin, str(tone), "s_end", "word_end")]


def test_golden_sentence_reproduces_reference_symbols(fe: Frontend) -> None:
    """你好，世界。 gives exactly the golden KAN-TTS symbol string (tone sandhi ni3 -> ni2)."""
    meta = json.loads((reference_dir() / "golden" / "golden_meta.json").read_text())
    assert fe.tokens("你好，世界。") == [meta["symbols"]]
    enc = LinguisticTables(["F7"]).encode(meta["symbols"]).stack()
    assert enc.tolist() == meta["encoded"]


def test_third_tone_chain_across_words(fe: Frontend) -> None:
    """我 很 好: right-to-left sandhi gives wo3 hen2 hao3; #1 between words, #4 at the end."""
    (line,) = fe.tokens("我很好。")
    assert rows(line) == [
        *one_syllable_word("w_c", "o_c", 3),
        brk(1),
        *one_syllable_word("h_c", "en_c", 2),
        brk(1),
        *one_syllable_word("h_c", "ao_c", 3),
        brk(4),
    ]


def test_yi_sandhi_reduplication_and_clitic(fe: Frontend) -> None:
    """一起 -> yi4 (before tone 3); 看一看 -> yi neutral; 吧 attaches (no break before it)."""
    (line,) = fe.tokens("我们一起去看一看吧！")
    assert rows(line) == [
        P("w_c", "3", "s_begin", "word_begin"),
        P("o_c", "3", "s_end", "word_middle"),
        P("m_c", "5", "s_begin", "word_middle"),
        P("en_c", "5", "s_end", "word_end"),
        brk(1),
        P("y_c", "4", "s_begin", "word_begin"),
        P("i_c", "4", "s_end", "word_middle"),
        P("q_c", "3", "s_begin", "word_middle"),
        P("i_c", "3", "s_end", "word_end"),
        brk(1),
        *one_syllable_word("q_c", "v_c", 4),
        brk(1),
        P("k_c", "4", "s_begin", "word_begin"),
        P("an_c", "4", "s_end", "word_middle"),
        P("y_c", "5", "s_begin", "word_middle"),
        P("i_c", "5", "s_end", "word_middle"),
        P("k_c", "4", "s_begin", "word_middle"),
        P("an_c", "4", "s_end", "word_end"),
        *one_syllable_word("b_c", "a_c", 5),
        brk(4),
    ]


def test_bu_sandhi_and_clause_break(fe: Frontend) -> None:
    """不 before tone 4 -> bu2, before tone 3 stays bu4; the comma gives #3."""
    (line,) = fe.tokens("不对，不好。")
    assert rows(line) == [
        *one_syllable_word("b_c", "u_c", 2),
        brk(1),
        *one_syllable_word("d_c", "uei_c", 4),
        brk(3),
        P("b_c", "4", "s_begin", "word_begin"),
        P("u_c", "4", "s_end", "word_middle"),
        P("h_c", "3", "s_begin", "word_middle"),
        P("ao_c", "3", "s_end", "word_end"),
        brk(4),
    ]


def test_numbers_are_normalised_first(fe: Frontend) -> None:
    """3 -> 三 via tts.textnorm; 我 有 -> wo2 you3 across the word boundary; 苹果 ping2 guo3."""
    (line,) = fe.tokens("我有3个苹果。")
    assert rows(line) == [
        *one_syllable_word("w_c", "o_c", 2),
        brk(1),
        *one_syllable_word("y_c", "ou_c", 3),
        brk(1),
        P("s_c", "1", "s_begin", "word_begin"),
        P("an_c", "1", "s_end", "word_middle"),
        P("g_c", "4", "s_begin", "word_middle"),
        P("e_c", "4", "s_end", "word_end"),
        brk(1),
        P("p_c", "2", "s_begin", "word_begin"),
        P("ing_c", "2", "s_end", "word_middle"),
        P("g_c", "3", "s_begin", "word_middle"),
        P("uo_c", "3", "s_end", "word_end"),
        brk(4),
    ]


def test_long_phrase_gets_a_level_two_break(fe: Frontend) -> None:
    """12 syllables without punctuation: #2 at the word boundary nearest the middle."""
    (words,) = fe.analyse("这是一个非常非常长的句子。")
    assert [(w.text, w.brk) for w in words] == [
        ("这是", 1),
        ("一个", 1),
        ("非常", 2),
        ("非常", 1),
        ("长", 0),
        ("的", 1),
        ("句子", 4),
    ]
    assert [s.tone for s in words[1].syllables] == [2, 4]  # 一 before ge4 -> yi2
    assert (words[4].syllables[0].pinyin, words[4].syllables[0].tone) == ("chang", 2)


def test_zero_initial_and_apical_vowels(fe: Frontend) -> None:
    """阿姨 -> ga a_c / y_c i_c; 四 -> s_c ii_c; 日 -> r_c ih_c; 鱼 -> y_c v_c."""
    (words,) = fe.analyse("阿姨四日吃鱼。")
    phones = [s.phones for w in words for s in w.syllables]
    assert phones == [
        ("ga", "a_c"),
        ("y_c", "i_c"),
        ("s_c", "ii_c"),
        ("r_c", "ih_c"),
        ("ch_c", "ih_c"),
        ("y_c", "v_c"),
    ]


def test_sentences_split_and_fields_set(fe: Frontend) -> None:
    lines = fe.tokens("你好。再见！", emotion="emotion_happy", speaker="F7")
    assert len(lines) == 2
    for line in lines:
        for token in line.split():
            assert token.endswith("$emotion_happy$F7}")
        assert line.endswith("{#4$tone_none$s_none$word_none$emotion_happy$F7}")


def test_latin_letters_are_spelled(fe: Frontend) -> None:
    from tingshuo.tts.textnorm import spell_latin

    (words,) = fe.analyse("GPU")
    assert "".join(w.text for w in words) == spell_latin("GPU")
    (words,) = fe.analyse("iPad")
    assert "".join(w.text for w in words) == spell_latin("IPAD")


def test_every_eval_sentence_tokenizes(fe: Frontend, shared) -> None:  # noqa: ANN001
    """All CSMSC test sentences, sentences.txt and the raw text-normalisation cases encode."""
    tables = LinguisticTables(["F7"])
    root = shared / "eval" / "tts-text"
    texts = []
    for name in ("csmsc_test.txt", "sentences.txt"):
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            parts = line.split(maxsplit=1)
            if len(parts) == 2:
                texts.append(parts[1])
    for line in (root / "textnorm_test_cases.txt").read_text(encoding="utf-8").splitlines():
        if "|" in line:
            texts.append(line.split("|", 1)[0])
    assert len(texts) > 200
    for text in texts:
        lines = fe.tokens(text)
        assert lines, text
        for line in lines:
            enc = tables.encode(line)
            assert enc.sy[-2] == tables.index("sy", "#4"), text  # every sentence ends with #4


@pytest.mark.parametrize(("text", "bad"), [("你好😀", "😀"), ("你好☃", "☃"), ("第§三条", "§")])
def test_unknown_symbols_name_the_character(fe: Frontend, text: str, bad: str) -> None:
    with pytest.raises(UnknownSymbolError, match=repr(bad)):
        fe.tokens(text)


def test_punctuation_only_gives_no_sentences(fe: Frontend) -> None:
    assert fe.tokens("……！") == []


def test_render_single_phone_word_is_word_both() -> None:
    from tingshuo.tts.sambert.frontend import Syllable, Word

    word = Word("x", [Syllable("x", "x", 1, ("a_c",))], brk=4)
    assert rows(render_tokens([word])) == [P("a_c", "1", "s_both", "word_both"), brk(4)]
