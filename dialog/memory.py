"""Conversation memory: the last N turns and the user's emotion trajectory."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import Turn, UserEmotion

ANGER: frozenset[Emotion] = frozenset({Emotion.ANGRY, Emotion.HATE})


def angry_streak(emotions: Iterable[UserEmotion | None], min_confidence: float = 0.0) -> int:
    """How many of the most recent estimates in a row are angry (or disgusted) and sure enough.

    An ``uncertain`` estimate (below the bridge's threshold) never counts.
    """
    streak = 0
    for e in reversed(list(emotions)):
        if e is None or e.uncertain or e.emotion not in ANGER or e.confidence < min_confidence:
            break
        streak += 1
    return streak


class ConversationMemory:
    """A bounded record of the conversation (one per session; not thread-safe)."""

    def __init__(self, max_turns: int = 8) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        self.max_turns = max_turns
        self._turns: deque[Turn] = deque(maxlen=max_turns)
        self._trajectory: list[tuple[Emotion, float]] = []  # whole session, for reporting

    def add(self, turn: Turn) -> None:
        """Remember a finished turn (the oldest falls out beyond ``max_turns``)."""
        self._turns.append(turn)
        if turn.user_emotion is not None:
            self._trajectory.append((turn.user_emotion.emotion, turn.user_emotion.confidence))

    def replace_last(self, turn: Turn) -> None:
        """Correct the latest turn (a barge-in cut its reply short: keep what was heard)."""
        if not self._turns:
            self.add(turn)
            return
        self._turns[-1] = turn

    @property
    def turns(self) -> list[Turn]:
        """The remembered turns, oldest first."""
        return list(self._turns)

    def trajectory(self) -> list[tuple[Emotion, float]]:
        """(emotion, confidence) of every user turn of the session, oldest first."""
        return list(self._trajectory)

    def angry_streak(self, min_confidence: float = 0.0) -> int:
        """Consecutive angry user turns ending with the latest."""
        return angry_streak((t.user_emotion for t in self._turns), min_confidence)

    def clear(self) -> None:
        """Forget everything (session reset)."""
        self._turns.clear()
        self._trajectory.clear()
