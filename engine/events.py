"""The engine's typed event vocabulary for one dialogue session.

Client events come in over ``/v1/dialog``; server events go out. Each is a frozen dataclass.
``SURVIVES_BARGE_IN`` on a server event class says whether a queued, not-yet-sent instance is
kept when the user barges in: reply events (text, audio, done) are dropped, everything about
the user's speech (VAD, transcripts, emotion) and errors are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

# ---- client → server --------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStart:
    """Opens a session: auth token, audio rates, voice and emotion policy."""

    token: str = ""
    sample_rate_in: int = 16000  # Hz of the client's PCM16 input frames
    sample_rate_out: int = 24000  # Hz of the reply audio the client wants
    voice: str = ""  # empty: the synthesizer's default voice
    emotion_policy: str = "empathetic"  # empathetic | mirror | neutral
    reply: bool = True  # False: transcription only, no replies


@dataclass(frozen=True)
class AudioIn:
    """One frame of user audio, decoded to float32 at the session's input rate."""

    samples: np.ndarray = field(repr=False)
    sample_rate: int

    @property
    def duration_ms(self) -> float:
        """Length of the frame in milliseconds."""
        return 1000.0 * len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class InputEnd:
    """The client has no more audio for now: finalise the open utterance."""


@dataclass(frozen=True)
class ReplyPlayback:
    """How much of a reply's audio the client has played so far."""

    reply_id: int
    played_ms: float


@dataclass(frozen=True)
class SessionClose:
    """The client ends the session."""

    reason: str = "client closed"


ClientEvent = SessionStart | AudioIn | InputEnd | ReplyPlayback | SessionClose

# ---- server → client --------------------------------------------------------------------


@dataclass(frozen=True)
class ServerEvent:
    """Base of everything the server sends."""

    SURVIVES_BARGE_IN: ClassVar[bool] = True


@dataclass(frozen=True)
class SessionStarted(ServerEvent):
    """The session is open; echoes the negotiated settings."""

    session_id: str
    sample_rate_in: int
    sample_rate_out: int
    voice: str
    emotion_policy: str


@dataclass(frozen=True)
class SpeechStartedEvent(ServerEvent):
    """The VAD heard the user start speaking (ms of session audio)."""

    time_ms: int


@dataclass(frozen=True)
class SpeechStoppedEvent(ServerEvent):
    """The VAD heard the user stop speaking (ms of session audio)."""

    time_ms: int


@dataclass(frozen=True)
class TranscriptPartial(ServerEvent):
    """Provisional text of the utterance being spoken."""

    utterance_id: int
    text: str


@dataclass(frozen=True)
class TranscriptFinal(ServerEvent):
    """Final text of one utterance, with its span in ms of session audio."""

    utterance_id: int
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class EmotionEvent(ServerEvent):
    """The user's estimated emotion for an utterance."""

    utterance_id: int
    emotion: str
    confidence: float
    distribution: dict[str, float] = field(default_factory=dict)
    source: str = "text"
    uncertain: bool = False  # below the bridge's threshold: reported as neutral


@dataclass(frozen=True)
class ReplyText(ServerEvent):
    """The reply about to be spoken, with the emotion it is spoken in."""

    SURVIVES_BARGE_IN: ClassVar[bool] = False
    reply_id: int
    text: str
    emotion: str
    intensity: float = 1.0
    intent: str = ""  # what the policy answered with ("known", "echo", "handoff", ...)
    handoff: bool = False  # the policy escalated: this reply hands over to a human agent


@dataclass(frozen=True)
class ReplyTextDelta(ServerEvent):
    """A piece of a streamed reply's text as the reply policy generates it (before its
    audio); the whole text follows in ``reply.text`` once the stream has ended."""

    SURVIVES_BARGE_IN: ClassVar[bool] = False
    reply_id: int
    delta: str
    emotion: str
    intensity: float = 1.0


@dataclass(frozen=True)
class ReplyAudio(ServerEvent):
    """One binary frame of reply audio: PCM16 mono at the session's output rate."""

    SURVIVES_BARGE_IN: ClassVar[bool] = False
    reply_id: int
    seq: int
    pcm: bytes = field(repr=False)
    sample_rate: int = 24000

    @property
    def duration_ms(self) -> float:
        """Length of the frame in milliseconds."""
        return 1000.0 * (len(self.pcm) // 2) / self.sample_rate


@dataclass(frozen=True)
class ReplyDone(ServerEvent):
    """All audio of a reply has been sent."""

    SURVIVES_BARGE_IN: ClassVar[bool] = False
    reply_id: int
    frames: int
    sent_ms: int


@dataclass(frozen=True)
class ReplyInterrupted(ServerEvent):
    """The user barged in: the rest of the reply was cancelled."""

    reply_id: int
    sent_ms: int
    played_ms: int
    heard_text: str


@dataclass(frozen=True)
class ErrorEvent(ServerEvent):
    """A typed error; ``fatal`` errors close the session after being sent."""

    code: str
    message: str
    fatal: bool = False


@dataclass(frozen=True)
class SessionClosed(ServerEvent):
    """The server is closing the session and says why."""

    reason: str


def survives_barge_in(event: ServerEvent, reply_id: int) -> bool:
    """Whether a queued ``event`` is kept when the user barges in on ``reply_id``."""
    return event.SURVIVES_BARGE_IN or getattr(event, "reply_id", None) != reply_id


# Error codes used on the wire (docs/protocol.md lists them).
BAD_MESSAGE = "bad_message"  # not JSON, unknown type, wrong field types
BAD_STATE = "bad_state"  # e.g. audio before session.start
BAD_AUDIO = "bad_audio"  # odd-length PCM, frame too large
UNAUTHORIZED = "unauthorized"
UNKNOWN_VOICE = "unknown_voice"
INTERNAL = "internal"  # a model failed; the session goes on
OVERLOADED = "overloaded"  # slow reader: session ended (fatal); saturated: reply refused
SHUTTING_DOWN = "shutting_down"
