"""Reply policies: knowledge base (default), OpenAI-compatible chat with KB fallback, echo.

Every policy shares the same emotional layer: the empathy map picks the reply style and
an acknowledgement, and when the user has been angry for ``escalate_after`` turns in a row
(this one included) the reply is the human-handoff message instead of an answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import Offload, Reply, ReplyStream, ReplyStyle, Turn, UserEmotion
from tingshuo.dialog.chat_backend import ChatBackend, ChatBackendError, ChatMessage
from tingshuo.dialog.empathy import EmpathyMap
from tingshuo.dialog.knowledge_base import KnowledgeBase
from tingshuo.dialog.memory import angry_streak
from tingshuo.dialog.reply_state import ReplySegmenter

log = logging.getLogger(__name__)
HANDOFF_INTENT = "handoff"
HUMAN_AGENT_INTENT = "human_agent"  # the knowledge base's "转人工" intent
NEGATIVE: frozenset[Emotion] = frozenset({Emotion.ANGRY, Emotion.HATE, Emotion.SAD, Emotion.FEAR})
APOLOGIES: tuple[str, ...] = ("抱歉", "对不起", "不好意思")


@dataclass(frozen=True)
class Escalation:
    """Hand off to a human after ``after_turns`` consecutive angry turns (0 disables)."""

    after_turns: int = 3
    min_confidence: float = 0.4
    message: str = "非常抱歉给您带来不好的体验，我这就为您转接人工客服，请稍候。"

    def due(self, history: list[Turn], emotion: UserEmotion) -> bool:
        """True when this turn completes a long enough angry streak."""
        if self.after_turns <= 0:
            return False
        streak = angry_streak([*(t.user_emotion for t in history), emotion], self.min_confidence)
        return streak >= self.after_turns


class EmpatheticPolicy:
    """Shared empathy + escalation; subclasses provide :meth:`answer`."""

    name = "base"

    def __init__(
        self, empathy: EmpathyMap | None = None, escalation: Escalation | None = None
    ) -> None:
        self.empathy = empathy or EmpathyMap()
        self.escalation = escalation or Escalation()

    def answer(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> tuple[str, str]:
        """(answer text, intent name) for the utterance, without emotional framing."""
        raise NotImplementedError

    def common_answers(self) -> list[str]:
        """Answer texts this policy gives often (subclasses with fixed answers list them)."""
        return []

    def openings(self) -> list[tuple[str, ReplyStyle]]:
        """Texts replies often start with, each with a style it is spoken in: the handoff
        message, the empathy prefixes and the common answers in every style of the empathy
        map. The engine renders their first segments into the synthesis cache ahead of use."""
        styles = list(dict.fromkeys(rule.style for rule in self.empathy.rules.values()))
        pairs = [(self.escalation.message, rule.style) for rule in self.empathy.rules.values()]
        pairs += [(r.prefix, r.style) for r in self.empathy.rules.values() if r.prefix]
        pairs += [(text, style) for text in self.common_answers() for style in styles]
        return list(dict.fromkeys(pairs))

    def respond(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> Reply:
        """The reply: handoff when anger persists, else the answer with the empathy map's style."""
        rule = self.empathy.rule_for(emotion)
        if self.escalation.due(history, emotion):
            return Reply(self.escalation.message, rule.style, HANDOFF_INTENT, handoff=True)
        text, intent = self.answer(history, utterance, emotion)
        if intent == HUMAN_AGENT_INTENT:  # the answer says "transferring": flag it for real
            return Reply(text, rule.style, intent, handoff=True)
        if self._acknowledge(history, emotion, rule.prefix, text):
            text = rule.prefix + text
        return Reply(text, rule.style, intent)

    def _acknowledge(
        self, history: list[Turn], emotion: UserEmotion, prefix: str, text: str
    ) -> bool:
        """Whether to open with the empathy prefix: a confident negative emotion (never an
        uncertain one), an answer that does not apologise already, and not the same
        acknowledgement as the previous reply (once, not on every turn of a streak)."""
        if not prefix or emotion.uncertain or emotion.emotion not in NEGATIVE:
            return False
        if emotion.confidence < self.empathy.min_confidence:
            return False
        if any(word in text for word in APOLOGIES):
            return False
        return not (history and history[-1].reply.startswith(prefix))


class KnowledgeBasePolicy(EmpatheticPolicy):
    """Answers from the YAML knowledge base; slots remembered from earlier turns are reused."""

    name = "kb"

    def __init__(
        self,
        kb: KnowledgeBase,
        empathy: EmpathyMap | None = None,
        escalation: Escalation | None = None,
    ) -> None:
        super().__init__(empathy, escalation)
        self.kb = kb

    def answer(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> tuple[str, str]:
        remembered: dict[str, str] = {}
        for turn in history:
            remembered.update(self.kb.extract_slots(turn.user_text))
        match = self.kb.match(utterance, remembered)
        return match.answer, match.intent

    def common_answers(self) -> list[str]:
        """Every intent's answer and the fallback (slot placeholders left in)."""
        return [*(intent.answer for intent in self.kb.intents), self.kb.fallback]


class ChatPolicy(EmpatheticPolicy):
    """Asks an OpenAI-compatible endpoint; on timeout or error answers from the knowledge base.

    With ``stream`` the engine calls :meth:`respond_stream` (on its event loop) instead of
    :meth:`respond` (on a worker thread), so synthesis can start at the reply's first clause.
    """

    name = "chat"

    def __init__(
        self,
        backend: ChatBackend,
        fallback: EmpatheticPolicy,
        system_prompt: str = "",
        empathy: EmpathyMap | None = None,
        escalation: Escalation | None = None,
        stream: bool = False,
    ) -> None:
        super().__init__(empathy, escalation)
        self.backend = backend
        self.fallback = fallback
        self.system_prompt = system_prompt
        self.streaming = stream

    def messages(
        self, history: list[Turn], utterance: str, emotion: UserEmotion
    ) -> list[ChatMessage]:
        """The chat history sent to the endpoint (memory turns + the user's current emotion)."""
        system = self.system_prompt
        if emotion.confidence >= self.empathy.min_confidence:
            system += f"\n用户当前情绪：{emotion.emotion.value}（置信度 {emotion.confidence:.2f}）。请据此调整语气。"
        out = [ChatMessage("system", system.strip())] if system.strip() else []
        for turn in history:
            out.append(ChatMessage("user", turn.user_text))
            if turn.reply:
                out.append(ChatMessage("assistant", turn.reply))
        out.append(ChatMessage("user", utterance))
        return out

    def answer(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> tuple[str, str]:
        try:
            return self.backend.complete(self.messages(history, utterance, emotion)), "chat"
        except ChatBackendError as exc:
            log.warning("chat backend failed, answering from the knowledge base: %s", exc)
            return self.fallback.answer(history, utterance, emotion)

    async def respond_stream(
        self,
        history: list[Turn],
        utterance: str,
        emotion: UserEmotion,
        *,
        offload: Offload | None = None,
        first_chars: int = 0,
        max_chars: int = 60,
    ) -> Reply | ReplyStream:
        """:meth:`respond` with the chat answer streamed (call on the event loop).

        Escalation and the reply style are decided at once as in :meth:`respond` (a handoff is
        a whole :class:`Reply`). The empathy prefix needs the answer (not when it already
        apologises): it is decided on the text received up to the first synthesis segment
        (``ReplySegmenter(max_chars, first_chars)``'s first cut), which is held back until
        then. The chat stream failing before any text → the knowledge-base answer (computed
        through ``offload``, default a thread); failing mid-way → the reply ends with the
        text received so far. Errors are logged, never raised.
        """
        history = list(history)  # the caller's list grows while this reply streams
        rule = self.empathy.rule_for(emotion)
        if self.escalation.due(history, emotion):
            return Reply(self.escalation.message, rule.style, HANDOFF_INTENT, handoff=True)
        reply = ReplyStream(rule.style, _empty(), "chat")
        reply.deltas = self._stream_text(
            reply, history, utterance, emotion, offload or asyncio.to_thread, first_chars, max_chars
        )
        return reply

    async def _stream_text(
        self,
        reply: ReplyStream,
        history: list[Turn],
        utterance: str,
        emotion: UserEmotion,
        offload: Offload,
        first_chars: int,
        max_chars: int,
    ) -> AsyncGenerator[str, None]:
        prefix = self.empathy.rule_for(emotion).prefix
        # the prefix may apply: hold the text back until the first segment is known
        hold = self._acknowledge(history, emotion, prefix, "")
        cutter = ReplySegmenter(max_chars, first_chars)
        head = ""  # text held back
        received = False
        failure = "the endpoint returned an empty reply"
        try:
            async with aclosing(
                self.backend.stream(self.messages(history, utterance, emotion))
            ) as s:
                async for delta in s:
                    received = received or bool(delta.strip())
                    if not hold:
                        yield delta
                        continue
                    head += delta
                    if cutter.feed(delta):
                        hold = False
                        yield self._framed(history, emotion, prefix, head)
        except ChatBackendError as exc:
            if received:
                log.warning("chat stream broke off; the reply ends with the text so far: %s", exc)
            else:
                failure = str(exc)
        if not received:  # failed before any text, or an empty completion (as complete())
            log.warning("chat stream failed, answering from the knowledge base: %s", failure)
            text, intent = await offload(self.fallback.answer, history, utterance, emotion)
            reply.intent, reply.handoff = intent, intent == HUMAN_AGENT_INTENT
            if not reply.handoff and self._acknowledge(history, emotion, prefix, text):
                text = prefix + text
            yield text
        elif hold:  # the text ended before its first segment was cut
            yield self._framed(history, emotion, prefix, head)

    def _framed(self, history: list[Turn], emotion: UserEmotion, prefix: str, head: str) -> str:
        """The held-back head of a streamed answer, with the prefix when it applies."""
        return prefix + head if self._acknowledge(history, emotion, prefix, head) else head

    async def aclose(self) -> None:
        """Close the chat backend's HTTP clients."""
        await self.backend.aclose()


async def _empty() -> AsyncGenerator[str, None]:
    return
    yield  # an async generator with nothing to yield


class EchoPolicy(EmpatheticPolicy):
    """Repeats the user's words (for testing the voice loop); still empathetic in style."""

    name = "echo"

    def answer(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> tuple[str, str]:
        return (
            f"您说的是：{utterance}" if utterance.strip() else "我没有听清，请再说一遍。"
        ), "echo"

    def respond(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> Reply:
        reply = super().respond(history, utterance, emotion)
        if reply.handoff:
            return reply
        return Reply(self.answer(history, utterance, emotion)[0], reply.style, "echo")
