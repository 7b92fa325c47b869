"""Book-keeping for one reply being spoken: what was synthesized, sent and heard."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tingshuo.dialog.base import ReplyStyle, UserEmotion
from tingshuo.tts.segment import split_text


def split_reply(text: str, max_chars: int, first_chars: int = 0) -> list[str]:
    """Reply text in synthesis segments (``tts.segment.split_text``), split once here.

    ``first_chars`` > 0: the first segment is the reply's first clause(s) up to that many
    characters (cut between words when the first clause is longer), so the first audio is a
    short synthesis — or a cache hit for common openings (好的， / 非常抱歉给您带来了不便，).
    """
    parts = [p for p in split_text(text, max_chars) if p.strip()] or [text]
    if first_chars > 0 and len(parts[0]) > first_chars:
        head = [p for p in split_text(parts[0], first_chars) if p.strip()]
        if len(head) > 1:
            parts = [head[0], "".join(head[1:]), *parts[1:]]
    return parts


@dataclass
class ActiveReply:
    """A reply from its text until the client has (probably) finished playing it."""

    reply_id: int
    text: str
    style: ReplyStyle
    user_text: str
    user_emotion: UserEmotion | None
    endpoint_at: float  # perf_counter when the user's utterance ended
    segments: list[tuple[str, float, float]] = field(default_factory=list)  # text, start, end ms
    current: str = ""  # segment being synthesized
    current_start_ms: float = 0.0
    synth_ms: float = 0.0  # audio produced
    sent_ms: float = 0.0  # audio written to the socket
    first_sent_at: float | None = None
    client_played_ms: float | None = None
    frames: int = 0
    done: bool = False  # all audio produced and queued
    recorded: bool = False  # its turn is in the history

    def on_sent(self, duration_ms: float) -> None:
        """The writer put one audio frame of this reply on the socket."""
        if self.first_sent_at is None:
            self.first_sent_at = time.perf_counter()
        self.sent_ms += duration_ms

    def played_ms(self, now: float | None = None) -> float:
        """What the client reported playing, else real-time playback since the first frame."""
        if self.client_played_ms is not None:
            return min(self.client_played_ms, self.sent_ms)
        if self.first_sent_at is None:
            return 0.0
        now = time.perf_counter() if now is None else now
        return min(self.sent_ms, 1000.0 * (now - self.first_sent_at))

    def playback_finished(self, now: float | None = None) -> bool:
        """All audio sent and played (by report or estimate)."""
        return (
            self.done
            and self.sent_ms >= self.synth_ms - 1e-6
            and self.played_ms(now) >= self.sent_ms - 1e-6
        )

    def heard_text(self, played_ms: float) -> str:
        """The reply's text up to ``played_ms`` of audio (whole segments, then a prefix by time)."""
        spans = list(self.segments)
        if self.current and self.synth_ms > self.current_start_ms:
            spans.append((self.current, self.current_start_ms, self.synth_ms))
        heard = []
        for seg, start, end in spans:
            if played_ms >= end:
                heard.append(seg)
            elif played_ms > start:
                chars = int(len(seg) * (played_ms - start) / (end - start))
                heard.append(seg[:chars])
                break
            else:
                break
        return "".join(heard)
