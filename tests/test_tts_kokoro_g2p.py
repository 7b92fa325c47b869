"""tts.kokoro_g2p: Mandarin → Kokoro phonemes, polyphone fixes, Latin words."""

from __future__ import annotations

from tingshuo.tts.kokoro_g2p import phonemize, pinyin_words
from tingshuo.tts.kokoro_model import load_vocab


def _pinyin(text: str) -> list[str]:
    return [p for _, pys in pinyin_words(text) for p in pys]


def test_tones_become_arrows() -> None:
    ph = phonemize("你好，世界。")
    assert "↓" in ph and "↘" in ph  # third and fourth tones
    assert ph.endswith(".") and "," in ph


def test_every_symbol_is_in_the_model_vocabulary() -> None:
    vocab = load_vocab()
    text = "昨日，这名伤者与医生全部被警方依法刑事拘留。一会儿去哪儿？我们的VIP客服说：“好！”"
    ph = phonemize(text)
    missing = {ch for ch in ph if ch not in vocab}
    assert not missing, missing


def test_polyphones_in_context() -> None:
    assert _pinyin("银行行长") == ["yin2", "hang2", "hang2", "zhang3"]
    assert _pinyin("他的头发很长")[-1] == "chang2"
    assert _pinyin("还钱")[0] == "huan2"
    assert _pinyin("还是")[0] == "hai2"
    assert _pinyin("我们去还书")[-2] == "huan2"


def test_latin_words_and_acronyms() -> None:
    assert phonemize("press") == "pɹˈɛs"  # English gold lexicon
    spelled = phonemize("VIP")
    assert spelled and all(ch not in "VP" for ch in spelled)  # letter names in Mandarin


def test_symbols_are_dropped() -> None:
    assert phonemize("😀") == ""
    assert phonemize("好😀") == phonemize("好")


def test_tone_sandhi() -> None:
    assert _pinyin("你好") == ["ni2", "hao3"]  # third tone before third tone
    assert _pinyin("展览馆") == ["zhan2", "lan2", "guan3"]
    assert _pinyin("一只")[0] == "yi4" and _pinyin("一切")[0] == "yi2"  # 一 by the next tone
    assert _pinyin("不是")[0] == "bu2" and _pinyin("不好")[0] == "bu4"  # 不 before a fourth tone
    assert _pinyin("看看") == ["kan4", "kan5"]  # reduplicated verb


def test_neutral_tones_of_particles_but_not_of_words() -> None:
    assert _pinyin("骂得我抬不起头")[1] == "de5"
    assert _pinyin("一步不离地跟着")[-3:] == ["de5", "gen1", "zhe5"]
    assert _pinyin("我的书")[1] == "de5"
    # a word-final 的/地/得 keeps its dictionary reading inside a word
    assert _pinyin("基地")[-1] == "di4" and _pinyin("目的")[-1] == "di4"
    assert _pinyin("获得")[-1] == "de2" and _pinyin("觉得")[-1] == "de5"
    assert _pinyin("恨不得") == ["hen4", "bu5", "de5"]
    # 行行 in 银行行长 is not a reduplication
    assert _pinyin("银行行长") == ["yin2", "hang2", "hang2", "zhang3"]
