"""Dialogue interfaces: the emotion bridge and the reply policy."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tingshuo.asr.encoder_pooling import EncoderStates
from tingshuo.core.audio import Audio
from tingshuo.core.emotions import Emotion


@dataclass(frozen=True)
class UserEmotion:
    """The user's estimated emotion: a distribution over the canonical set and a confidence."""

    emotion: Emotion
    confidence: float
    distribution: dict[Emotion, float] = field(default_factory=dict)
    source: str = "text"  # text | audio | fused
    # True when the calibrated top probability was below the bridge's threshold: ``emotion``
    # is then neutral and ``confidence`` the neutral probability; policies do not act on it
    uncertain: bool = False

    @property
    def top(self) -> Emotion:
        """The most probable emotion of the distribution (even when ``uncertain``)."""
        if not self.distribution:
            return self.emotion
        return max(self.distribution, key=lambda e: self.distribution[e])


@dataclass(frozen=True)
class ReplyStyle:
    """The emotion the reply should be spoken in."""

    emotion: Emotion = Emotion.NEUTRAL
    intensity: float = 1.0


@dataclass(frozen=True)
class Turn:
    """One exchange in the conversation memory (``reply`` holds only what the user heard)."""

    user_text: str
    user_emotion: UserEmotion | None
    reply: str = ""
    reply_style: ReplyStyle = field(default_factory=ReplyStyle)


@dataclass(frozen=True)
class Reply:
    """What to say back and how."""

    text: str
    style: ReplyStyle = field(default_factory=ReplyStyle)
    intent: str = ""
    handoff: bool = False  # escalated to a human agent


@runtime_checkable
class EmotionBridge(Protocol):
    """Maps speech and/or text into the shared space and reads the user's emotion there."""

    def estimate(
        self,
        audio: Audio | None,
        text: str | None,
        *,
        encoder: EncoderStates | None = None,
        speaker: Any = None,
    ) -> UserEmotion:
        """Emotion from audio, text or both (fused). At least one must be given.

        ``encoder``: the recognizer's pooled encoder states of ``audio`` (no second encoder
        pass); ``speaker``: the speaker profile to normalise against (from
        ``new_speaker()``; updated with this utterance).
        """
        ...

    def reply_style(self, user_emotion: UserEmotion) -> ReplyStyle:
        """The reply emotion the empathy map chooses for this user emotion."""
        ...


@dataclass
class ReplyStream:
    """A reply whose text arrives in pieces (a streaming chat policy).

    ``deltas`` yields the text as it comes; ``intent`` and ``handoff`` are final once it is
    exhausted (a fallback answer may change them). Close ``deltas`` (``aclose``) when not
    reading it to the end: that ends the upstream request.
    """

    style: ReplyStyle
    deltas: AsyncGenerator[str, None]
    intent: str = ""
    handoff: bool = False


# runs a blocking call off the event loop (the engine passes its worker pool)
Offload = Callable[..., Awaitable[Any]]


@runtime_checkable
class ReplyPolicy(Protocol):
    """Chooses the reply text and style."""

    def respond(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> Reply:
        """The reply to ``utterance`` given the conversation so far. Blocking (may call a model)."""
        ...
