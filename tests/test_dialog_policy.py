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
    assert not kb_policy.respond(calm, "你们到底管不管", ANGRY).handoff
    # unsure anger does not count
    unsure = UserEmotion(Emotion.ANGRY, 0.2)
    assert not kb_policy.respond([Turn("a", unsure), Turn("b", unsure)], "c", unsure).handoff


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
