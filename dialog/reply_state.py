"""Book-keeping for one reply being spoken: what was synthesized, sent and heard."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tingshuo.dialog.base import ReplyStyle, UserEmotion
from tingshuo.tts.segment import CLAUSE_END, SENTENCE_END, jieba_words, split_text

_SENTENCE = frozenset(SENTENCE_END)
_BOUNDARY = frozenset(SENTENCE_END + CLAUSE_END)
_CLOSERS = frozenset("”’」』）)》】\"'")  # closing quotes/brackets stay with their punctuation


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


class ReplySegmenter:
    """:func:`split_reply` for text that arrives in pieces (a streamed chat reply).

    :meth:`feed` takes each text delta and returns the synthesis segments it completed;
    :meth:`finish` returns the rest once the text has ended. The cuts:

    - the FIRST segment ends at the first clause or sentence boundary (``，。！？；：、…``,
      newline and their ASCII forms), or — when none has come within ``first_chars``
      characters — at the last word boundary (jieba) within ``first_chars``;
    - later segments end at a sentence boundary, or at a clause boundary once the segment is
      ``clause_chars`` long (default ``max_chars // 2``), and never exceed ``max_chars``
      (cut at the last clause, else word boundary within it);
    - a boundary counts only once the next non-punctuation, non-space character has arrived,
      so punctuation split over deltas (``…`` + ``…``, ``。`` + ``”``) stays in one segment;
      likewise a word cut waits for the text after the word.

    Differences from :func:`split_reply` on a complete text: the first segment is only the
    first clause (``split_reply`` packs several short clauses up to ``first_chars``), and a
    sentence longer than ``max_chars`` is cut at its first clause past ``clause_chars``
    (``split_reply`` packs clauses greedily up to ``max_chars``). Sentences within
    ``max_chars`` are cut identically. Segments are stripped; blank ones are dropped.
    """

    def __init__(self, max_chars: int, first_chars: int = 0, clause_chars: int = 0) -> None:
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {max_chars}")
        self.max_chars = max_chars
        self.first_chars = min(first_chars, max_chars)
        self.clause_chars = clause_chars if clause_chars > 0 else max(1, max_chars // 2)
        self.emitted = 0  # segments returned so far
        self._buf = ""

    @property
    def pending(self) -> str:
        """Text received but not yet in a segment."""
        return self._buf

    def feed(self, delta: str) -> list[str]:
        """Add a text delta; the segments it completed (often none)."""
        self._buf += delta
        out: list[str] = []
        while (cut := self._cut()) is not None:
            segment, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            if segment:
                out.append(segment)
                self.emitted += 1
        return out

    def finish(self) -> list[str]:
        """The text has ended: the remaining segments (split as :func:`split_reply` would)."""
        rest, self._buf = self._buf, ""
        if not rest.strip():
            return []
        first = self.first_chars if self.emitted == 0 else 0
        out = [p.strip() for p in split_reply(rest, self.max_chars, first) if p.strip()]
        self.emitted += len(out)
        return out

    def _boundaries(self) -> list[tuple[int, bool]]:
        """Confirmed boundaries of the buffer: (end of the punctuation run with its closers
        and spaces, whether the run holds sentence-final punctuation)."""
        buf, out, i = self._buf, [], 0
        while i < len(buf):
            if buf[i] not in _BOUNDARY:
                i += 1
                continue
            sentence = False
            while i < len(buf) and buf[i] in _BOUNDARY:
                sentence = sentence or buf[i] in _SENTENCE
                i += 1
            while i < len(buf) and (buf[i] in _CLOSERS or buf[i].isspace()):
                i += 1
            if i < len(buf):  # something else follows: the run is complete
                out.append((i, sentence))
        return out

    def _cut(self) -> int | None:
        """Where the next segment ends in the buffer, or None while it is not known yet."""
        buf = self._buf
        if not buf.strip():
            return None
        bounds = [(end, sentence) for end, sentence in self._boundaries() if _has_word(buf[:end])]
        first = self.emitted == 0 and self.first_chars > 0
        if first:
            if bounds and len(buf[: bounds[0][0]].strip()) <= self.first_chars:
                return bounds[0][0]
            limit = self.first_chars
            region_end = bounds[0][0] if bounds else len(buf)
        else:
            limit = self.max_chars
            ends = [end for end, sentence in bounds if sentence]
            region_end = ends[0] if ends else len(buf)
            if ends and len(buf[:region_end].strip()) <= limit:
                return region_end
            for end, _ in bounds:
                size = len(buf[:end].strip())
                if end < region_end and self.clause_chars <= size <= limit:
                    return end
        complete = region_end < len(buf)  # the region's last word is followed by more text
        region = buf[:region_end]
        if len(region.strip()) <= limit:
            return None
        clause_ends = [end for end, _ in bounds if end <= region_end]
        fitting = [end for end in clause_ends if len(buf[:end].strip()) <= limit]
        if fitting:
            return fitting[-1]
        return _word_cut(region, limit, complete)


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _word_cut(region: str, limit: int, complete: bool) -> int | None:
    """The end of the last whole word of ``region`` within ``limit`` characters (the first
    word when it alone is longer); the last word counts only when ``complete``."""
    words = jieba_words(region)
    if not complete:
        words = words[:-1]  # it may go on in the next delta
    end = 0
    for word in words:
        if end and len(region[: end + len(word)].strip()) > limit:
            break
        end += len(word)
    return end or None


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
