"""One conversation as a state machine: no sockets, threads, tasks or event loop.

The engine's :class:`~tingshuo.engine.session.Session` drives it from socket events and model
results; everything the conversation *means* lives here and is testable on its own:

- the turns and the emotion trajectory (:class:`~tingshuo.dialog.memory.ConversationMemory`);
- the reply-style decision (the session's emotion policy over the reply policy's empathy);
- the reply being spoken and what of it the user heard (``reply.playback`` reports, or real-time
  playback since the first frame was sent), so a barge-in keeps only the heard part in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import Reply, ReplyStyle, Turn, UserEmotion
from tingshuo.dialog.memory import ConversationMemory
from tingshuo.dialog.reply_state import ActiveReply, ReplySegmenter, split_reply

EMOTION_POLICIES: tuple[str, ...] = ("empathetic", "mirror", "neutral")


@dataclass(frozen=True)
class Interruption:
    """A reply cut short by the user speaking: how much went out and what was heard."""

    reply: ActiveReply
    sent_ms: float
    played_ms: float
    heard_text: str


class Conversation:
    """Turns, reply style and the reply in flight of one conversation (not thread-safe)."""

    def __init__(
        self,
        emotion_policy: str = "empathetic",
        memory_turns: int = 8,
        max_segment_chars: int = 60,
        first_segment_chars: int = 0,
    ) -> None:
        if emotion_policy not in EMOTION_POLICIES:
            raise ValueError(
                f"unknown emotion policy {emotion_policy!r}; expected one of "
                f"{', '.join(EMOTION_POLICIES)}"
            )
        self.emotion_policy = emotion_policy
        self.memory = ConversationMemory(max(1, memory_turns))
        self.max_segment_chars = max_segment_chars
        self.first_segment_chars = first_segment_chars
        self.reply: ActiveReply | None = None
        self._replies = 0

    @property
    def history(self) -> list[Turn]:
        """The remembered turns, oldest first (what the reply policy sees)."""
        return self.memory.turns

    def reply_style(self, reply: Reply, emotion: UserEmotion) -> ReplyStyle:
        """How to speak ``reply``: the policy's empathetic choice, the user's own emotion
        (``mirror``) or always neutral, as the session asked."""
        if self.emotion_policy == "neutral":
            return ReplyStyle(Emotion.NEUTRAL, 1.0)
        if self.emotion_policy == "mirror":
            return ReplyStyle(emotion.emotion, 1.0)
        return reply.style

    def listened(self, user_text: str, emotion: UserEmotion | None) -> None:
        """A user turn that gets no reply (the session asked for recognition only)."""
        self.memory.add(Turn(user_text, emotion))

    def start_reply(
        self, user_text: str, emotion: UserEmotion, reply: Reply, endpoint_at: float
    ) -> ActiveReply:
        """The reply to ``user_text`` becomes the one being spoken (numbered from 1)."""
        self._replies += 1
        state = ActiveReply(
            self._replies,
            reply.text,
            self.reply_style(reply, emotion),
            user_text,
            emotion,
            endpoint_at,
        )
        self.reply = state
        return state

    def segments(self, state: ActiveReply) -> list[str]:
        """The reply text in synthesis segments: a short first one (fast first audio), then
        up to ``max_segment_chars`` each. The synthesizer renders each as it is."""
        return split_reply(state.text, self.max_segment_chars, self.first_segment_chars)

    def segmenter(self) -> ReplySegmenter:
        """Cuts a streamed reply into the same kind of segments as :meth:`segments`, as its
        text arrives."""
        return ReplySegmenter(self.max_segment_chars, self.first_segment_chars)

    def extend_reply(self, state: ActiveReply, delta: str) -> None:
        """More text of a streamed reply arrived (it is what :meth:`finish_reply` remembers;
        a barge-in keeps the heard part of the segments spoken so far)."""
        state.text += delta

    def finish_reply(self, state: ActiveReply) -> None:
        """All of the reply's audio is queued: remember the whole turn."""
        state.done = True
        self.memory.add(Turn(state.user_text, state.user_emotion, state.text, state.style))
        state.recorded = True

    def playback(self, reply_id: int, played_ms: float) -> None:
        """The client reports how much of reply ``reply_id`` it has played."""
        if self.reply is not None and self.reply.reply_id == reply_id:
            self.reply.client_played_ms = played_ms

    def sent(self, reply_id: int, duration_ms: float) -> None:
        """One audio frame of reply ``reply_id`` went out on the wire."""
        if self.reply is not None and self.reply.reply_id == reply_id:
            self.reply.on_sent(duration_ms)

    def drop_reply(self) -> ActiveReply | None:
        """Forget the reply in flight (it is being cancelled); returns it."""
        state, self.reply = self.reply, None
        return state

    def barge_in(self, now: float | None = None) -> Interruption | None:
        """The user started speaking. A reply still playing is cut: the returned
        :class:`Interruption` says what was heard, and memory keeps only that part.
        ``None`` when nothing was playing (a finished reply is simply let go)."""
        state = self.reply
        if state is None:
            return None
        self.reply = None
        if state.playback_finished(now):
            return None
        played = state.played_ms(now)
        heard = state.heard_text(played)
        turn = Turn(state.user_text, state.user_emotion, heard, state.style)
        if state.recorded:
            self.memory.replace_last(turn)
        else:
            self.memory.add(turn)
        return Interruption(state, state.sent_ms, played, heard)

    def reset(self) -> None:
        """Forget the conversation (the reply in flight must be cancelled by the caller)."""
        self.reply = None
        self.memory.clear()
