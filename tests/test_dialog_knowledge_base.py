"""The packaged customer-service KB retrieved with the real sentence encoder; slots; fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.dialog.knowledge_base import (
    DEFAULT_KB,
    FALLBACK_INTENT,
    KnowledgeBase,
    KnowledgeBaseError,
)
from tingshuo.dialog.text_features import SentenceEncoder


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(threads=2)


@pytest.fixture(scope="module")
def kb(encoder: SentenceEncoder) -> KnowledgeBase:
    return KnowledgeBase.from_file(None, encoder, threshold=0.5)


def test_packaged_kb_covers_the_required_areas(kb: KnowledgeBase) -> None:
    names = {i.name for i in kb.intents}
    assert {
        "order_status",
        "track_package",
        "refund_request",
        "complaint",
        "login_problem",
    } <= names
    assert DEFAULT_KB.is_file()


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("我想退货，这个东西不合适", "refund_request"),
        ("快递三天都没更新了", "track_package"),
        ("账号登录不进去了怎么办", "login_problem"),
    ],
)
def test_paraphrases_find_their_intent(kb: KnowledgeBase, query: str, intent: str) -> None:
    match = kb.match(query)
    assert match.intent == intent
    assert match.score >= kb.threshold


def test_slot_extraction_fills_the_answer_and_asks_when_missing(kb: KnowledgeBase) -> None:
    asked = kb.match("帮我查一下我的订单状态")
    assert asked.intent == "order_status" and "订单号" in asked.answer
    filled = kb.match("帮我查一下订单 202311051234 的状态")
    assert filled.slots["order_id"] == "202311051234"
    assert "202311051234" in filled.answer
    remembered = kb.match("帮我查一下订单状态", slots={"order_id": "88886666"})
    assert "88886666" in remembered.answer


@pytest.mark.parametrize(
    "said",
    [
        "我的订单号是二零二三一一零五一二三四",  # read digit by digit
        "订单号二零二三 一一零五 一二三四",  # read in groups
        "订单号2023-1105-1234",  # groups as Whisper writes them
    ],
)
def test_spoken_order_numbers_fill_the_slot_whole(kb: KnowledgeBase, said: str) -> None:
    assert kb.extract_slots(said)["order_id"] == "202311051234"


def test_out_of_scope_gets_the_fallback(kb: KnowledgeBase) -> None:
    match = kb.match("帮我写一首关于月亮的诗")
    assert match.intent == FALLBACK_INTENT and match.answer == kb.fallback
    assert kb.match("   ").intent == FALLBACK_INTENT


def test_threshold_is_respected(encoder: SentenceEncoder) -> None:
    strict = KnowledgeBase.from_file(None, encoder, threshold=0.999)
    assert strict.match("我想退货，这个东西不合适").intent == FALLBACK_INTENT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("intents: []\n", "at least one intent"),
        ("intents:\n  - {name: a, examples: [x]}\n", "needs name, examples and answer"),
        ("intents:\n  - {name: a, examples: [x], answer: '{order}'}\n", "undefined slot"),
        ("slots: {a: {pattern: '('}}\nintents: []\n", "bad regex"),
        ("[1, 2]\n", "mapping at the top level"),
    ],
)
def test_bad_kb_files(tmp_path: Path, encoder: SentenceEncoder, text: str, message: str) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=message):
        KnowledgeBase.from_file(path, encoder)
    with pytest.raises(KnowledgeBaseError, match="not found"):
        KnowledgeBase.from_file(tmp_path / "none.yaml", encoder)


def test_hotwords_are_read_without_loading_the_kb(tmp_path: Path) -> None:
    assert "云朵记忆枕" in KnowledgeBase.hotwords_of(None)
    bare = tmp_path / "kb.yaml"
    bare.write_text("intents: []\n", encoding="utf-8")
    assert KnowledgeBase.hotwords_of(bare) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("hotwords: 云朵\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="hotwords"):
        KnowledgeBase.hotwords_of(bad)
