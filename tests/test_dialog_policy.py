"""Reply policies: empathy in the reply style, escalation to a human, chat with KB fallback, echo."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import ReplyStyle, Turn, UserEmotion
from tingshuo.dialog.chat_backend import ChatBackend
from tingshuo.dialog.empathy import EmpathyMap
from tingshuo.dialog.knowledge_base import KnowledgeBase
from tingshuo.dialog.policy import ChatPolicy, EchoPolicy, Escalation, KnowledgeBasePolicy
from tingshuo.dialog.text_features import SentenceEncoder

NEUTRAL = UserEmotion(Emotion.NEUTRAL, 0.9)
ANGRY = UserEmotion(Emotion.ANGRY, 0.9)


@pytest.fixture(scope="module")
def kb_policy() -> KnowledgeBasePolicy:
    kb = KnowledgeBase.from_file(None, SentenceEncoder(threads=2), threshold=0.5)
    return KnowledgeBasePolicy(kb, EmpathyMap(), Escalation(after_turns=3, min_confidence=0.4))


def test_kb_answer_in_neutral_style(kb_policy: KnowledgeBasePolicy) -> None:
    reply = kb_policy.respond([], "我想退货，这个东西不合适", NEUTRAL)
    assert reply.intent == "refund_request" and not reply.handoff
    assert reply.style == ReplyStyle(Emotion.NEUTRAL, 1.0)
    assert "退货" in reply.text


def test_angry_user_gets_apology_and_calm_style(kb_policy: KnowledgeBasePolicy) -> None:
    reply = kb_policy.respond([], "快递三天都没更新了", ANGRY)
    assert reply.style.emotion is not Emotion.ANGRY and reply.style.intensity < 1
    assert reply.text.startswith("非常抱歉")


def test_escalates_when_anger_persists(kb_policy: KnowledgeBasePolicy) -> None:
    history = [Turn("快递呢", ANGRY, "在查"), Turn("还没到", ANGRY, "再等等")]
    reply = kb_policy.respond(history, "你们到底管不管", ANGRY)
    assert reply.handoff and reply.intent == "handoff"
    assert "人工" in reply.text
    # a calm turn in between resets the streak
    calm = [Turn("快递呢", ANGRY, "在查"), Turn("好的", NEUTRAL, "嗯"), Turn("还没到", ANGRY)]
    assert not kb_policy.respond(calm, "快递三天都没更新了", ANGRY).handoff
    # unsure anger does not count
    unsure = UserEmotion(Emotion.ANGRY, 0.2)
    assert not kb_policy.respond([Turn("a", unsure), Turn("b", unsure)], "c", unsure).handoff


def test_uncertain_anger_never_escalates_nor_apologises(kb_policy: KnowledgeBasePolicy) -> None:
    unsure = UserEmotion(Emotion.NEUTRAL, 0.3, {Emotion.ANGRY: 0.45}, "fused", uncertain=True)
    history = [Turn("快递呢", unsure, "在查"), Turn("还没到", unsure, "再等等")]
    reply = kb_policy.respond(history, "快递三天都没更新了", unsure)
    assert not reply.handoff
    assert "抱歉" not in reply.text
    assert reply.style == ReplyStyle(Emotion.NEUTRAL, 1.0)


def test_apology_once_and_only_when_confident(kb_policy: KnowledgeBasePolicy) -> None:
    first = kb_policy.respond([], "快递三天都没更新了", ANGRY)
    assert first.text.count("抱歉") == 1
    # the next angry turn does not open with the same apology again
    second = kb_policy.respond(
        [Turn("快递三天都没更新了", ANGRY, first.text)], "我的快递到哪了", ANGRY
    )
    assert "抱歉" not in second.text
    # a neutral complaint gets no apology prefix from the empathy map
    assert "抱歉" not in kb_policy.respond([], "我要投诉", NEUTRAL).text


def test_kb_answers_never_claim_an_action_the_system_did_not_take(
    kb_policy: KnowledgeBasePolicy,
) -> None:
    claims = ("已经帮您", "已经为您", "我已经", "已经记录", "我会帮您", "我查到了", "已经提交")
    for text in [i.answer for i in kb_policy.kb.intents]:
        assert not any(c in text for c in claims), text
    angry = kb_policy.respond([], "服务太差了，我要投诉", ANGRY)
    assert not any(c in angry.text for c in claims)


def test_asking_for_a_human_is_a_real_handoff(kb_policy: KnowledgeBasePolicy) -> None:
    reply = kb_policy.respond([], "转人工", NEUTRAL)
    assert reply.handoff and "人工" in reply.text


def test_slots_are_remembered_across_turns(kb_policy: KnowledgeBasePolicy) -> None:
    history = [Turn("我的订单号是 556677889900", NEUTRAL, "好的")]
    reply = kb_policy.respond(history, "帮我查一下订单状态", NEUTRAL)
    assert "556677889900" in reply.text


def test_echo_policy() -> None:
    policy = EchoPolicy(escalation=Escalation(after_turns=1))
    assert policy.respond([], "你好", NEUTRAL).text == "您说的是：你好"
    assert policy.respond([], "你好", ANGRY).handoff


class _Handler(BaseHTTPRequestHandler):
    delay = 0.0

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(_Handler.delay)
        data = json.dumps(
            {"choices": [{"message": {"content": f"LLM:{len(body['messages'])}"}}]}
        ).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_chat_policy_uses_the_endpoint_then_falls_back(
    server: str, kb_policy: KnowledgeBasePolicy
) -> None:
    backend = ChatBackend(server, "m", timeout_s=0.5)
    policy = ChatPolicy(backend, kb_policy, "你是客服")
    history = [Turn("你好", NEUTRAL, "您好")]
    _Handler.delay = 0.0
    reply = policy.respond(history, "我想退货", NEUTRAL)
    assert reply.text == "LLM:4" and reply.intent == "chat"  # system + 2 history + current
    _Handler.delay = 1.5
    slow = policy.respond(history, "我想退货，这个东西不合适", NEUTRAL)
    assert slow.intent == "refund_request"  # answered by the knowledge base after the timeout
    _Handler.delay = 0.0
    backend.close()


def test_openings_cover_prefixes_handoff_and_kb_answers_in_each_style(
    kb_policy: KnowledgeBasePolicy,
) -> None:
    policy = kb_policy
    pairs = policy.openings()
    texts = {t for t, _ in pairs}
    assert "非常抱歉给您带来了不便，" in texts
    assert policy.escalation.message in texts
    assert "您好，我是智能客服小听，请问有什么可以帮您？" in texts
    styles = {s for t, s in pairs if t == "您好，我是智能客服小听，请问有什么可以帮您？"}
    assert styles == {rule.style for rule in policy.empathy.rules.values()}
    assert len(pairs) == len(set(pairs))
