"""The ``/v1/dialog`` WebSocket protocol as sans-I/O state machines (see docs/protocol.md).

Text messages are JSON objects with a ``type``; binary messages are audio. User audio is raw
PCM16 little-endian mono at ``sample_rate_in``. Reply audio frames carry a 12-byte header::

    offset size  field
    0      1     version   (1)
    1      1     kind      (1 = reply audio)
    2      2     reserved  (0)
    4      4     reply_id  uint32 little-endian
    8      4     seq       uint32 little-endian, 0, 1, 2, ... per reply
    12     ...   PCM16 little-endian mono at sample_rate_out

:class:`DialogServerProtocol` is the server side (``receive_*`` → client events,
``send`` / ``outgoing`` → wire messages); :class:`DialogClientProtocol` is the mirror image
used by the CLI client, the benchmark and tests.
"""

from __future__ import annotations

import json
import struct
from collections import deque
from dataclasses import asdict, fields
from enum import Enum
from typing import Any

from tingshuo.core.audio import SUPPORTED_INPUT_RATES, AudioFormatError, pcm16_to_float
from tingshuo.dialog.conversation import EMOTION_POLICIES
from tingshuo.engine.events import (
    BAD_AUDIO,
    BAD_MESSAGE,
    BAD_STATE,
    AudioIn,
    ClientEvent,
    EmotionEvent,
    ErrorEvent,
    InputEnd,
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyPlayback,
    ReplyText,
    ReplyTextDelta,
    ServerEvent,
    SessionClose,
    SessionClosed,
    SessionStart,
    SessionStarted,
    SpeechStartedEvent,
    SpeechStoppedEvent,
    TranscriptFinal,
    TranscriptPartial,
    survives_barge_in,
)

AUDIO_HEADER = struct.Struct("<BBHII")  # version, kind, reserved, reply_id, seq
AUDIO_HEADER_BYTES = AUDIO_HEADER.size  # 12
AUDIO_VERSION = 1
KIND_REPLY_AUDIO = 1
OUTPUT_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


# wire name <-> server event class
SERVER_TYPES: dict[str, type[ServerEvent]] = {
    "session.started": SessionStarted,
    "speech.started": SpeechStartedEvent,
    "speech.stopped": SpeechStoppedEvent,
    "transcript.partial": TranscriptPartial,
    "transcript.final": TranscriptFinal,
    "emotion": EmotionEvent,
    "reply.text": ReplyText,
    "reply.text.delta": ReplyTextDelta,
    "reply.done": ReplyDone,
    "reply.interrupted": ReplyInterrupted,
    "error": ErrorEvent,
    "session.closed": SessionClosed,
}
_TYPE_OF = {cls: name for name, cls in SERVER_TYPES.items()}


class ProtocolError(ValueError):
    """A message that breaks the protocol; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class State(Enum):
    """Where a server-side session is in its life."""

    AWAITING_START = "awaiting_start"
    OPEN = "open"
    CLOSED = "closed"


def encode_reply_audio(reply_id: int, seq: int, pcm: bytes) -> bytes:
    """One binary reply-audio frame: header + PCM16."""
    return AUDIO_HEADER.pack(AUDIO_VERSION, KIND_REPLY_AUDIO, 0, reply_id, seq) + pcm


def decode_reply_audio(data: bytes, sample_rate: int) -> ReplyAudio:
    """Parse a binary reply-audio frame; raises :class:`ProtocolError` when malformed."""
    if len(data) < AUDIO_HEADER_BYTES:
        raise ProtocolError(
            BAD_AUDIO, f"audio frame shorter than its {AUDIO_HEADER_BYTES}-byte header"
        )
    version, kind, _, reply_id, seq = AUDIO_HEADER.unpack_from(data)
    if version != AUDIO_VERSION or kind != KIND_REPLY_AUDIO:
        raise ProtocolError(BAD_AUDIO, f"unknown audio frame version {version} kind {kind}")
    return ReplyAudio(
        reply_id=reply_id, seq=seq, pcm=bytes(data[AUDIO_HEADER_BYTES:]), sample_rate=sample_rate
    )


def _load_json(text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(BAD_MESSAGE, f"not valid JSON: {exc.msg}") from None
    except RecursionError:  # found by tests/test_fuzz_protocol_dialog.py: "[" * 100000
        raise ProtocolError(BAD_MESSAGE, "JSON nested too deeply") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ProtocolError(BAD_MESSAGE, "a message must be a JSON object with a string 'type'")
    return obj


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = obj.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ProtocolError(BAD_MESSAGE, f"field {name!r} must be a number")
    if not isinstance(value, kind):
        raise ProtocolError(BAD_MESSAGE, f"field {name!r} has the wrong type")
    return value


def parse_session_start(obj: dict[str, Any]) -> SessionStart:
    """Validate a ``session.start`` object."""
    start = SessionStart(
        token=_field(obj, "token", str, ""),
        sample_rate_in=_field(obj, "sample_rate_in", int, 16000),
        sample_rate_out=_field(obj, "sample_rate_out", int, 24000),
        voice=_field(obj, "voice", str, ""),
        emotion_policy=_field(obj, "emotion_policy", str, "empathetic"),
        reply=_field(obj, "reply", bool, True),
    )
    if start.sample_rate_in not in SUPPORTED_INPUT_RATES:
        raise ProtocolError(
            BAD_MESSAGE,
            f"sample_rate_in {start.sample_rate_in} not in {list(SUPPORTED_INPUT_RATES)}",
        )
    if start.sample_rate_out not in OUTPUT_RATES:
        raise ProtocolError(
            BAD_MESSAGE, f"sample_rate_out {start.sample_rate_out} not in {list(OUTPUT_RATES)}"
        )
    if start.emotion_policy not in EMOTION_POLICIES:
        raise ProtocolError(
            BAD_MESSAGE, f"emotion_policy {start.emotion_policy!r} not in {list(EMOTION_POLICIES)}"
        )
    return start


class DialogServerProtocol:
    """Server side of ``/v1/dialog``: parse client messages, serialize server events.

    Errors in client input come back as :class:`ErrorEvent` values among the returned events
    (``fatal`` ones also move the state to ``CLOSED``); nothing here raises on bad input.
    """

    def __init__(self, max_frame_bytes: int = 1 << 20) -> None:
        self.state = State.AWAITING_START
        self.max_frame_bytes = max_frame_bytes
        self.sample_rate_in = 16000
        self.sample_rate_out = 24000
        self._out: deque[ServerEvent] = deque()

    # ---- input ----
    def receive_text(self, text: str) -> list[ClientEvent | ErrorEvent]:
        """Parse one text message."""
        if self.state is State.CLOSED:
            return []
        try:
            if len(text.encode("utf-8", "surrogatepass")) > self.max_frame_bytes:
                raise ProtocolError(
                    BAD_MESSAGE, f"message larger than {self.max_frame_bytes} bytes"
                )
            obj = _load_json(text)
            return [self._client_event(obj)]
        except ProtocolError as exc:
            return [
                self._error(
                    exc.code,
                    str(exc),
                    fatal=exc.code == BAD_STATE and self.state is State.AWAITING_START,
                )
            ]

    def receive_bytes(self, data: bytes) -> list[ClientEvent | ErrorEvent]:
        """Parse one binary message (user PCM16 audio)."""
        if self.state is State.CLOSED:
            return []
        if self.state is State.AWAITING_START:
            return [self._error(BAD_STATE, "audio before session.start", fatal=True)]
        if len(data) > self.max_frame_bytes:
            return [self._error(BAD_AUDIO, f"audio frame larger than {self.max_frame_bytes} bytes")]
        try:
            samples = pcm16_to_float(bytes(data))
        except AudioFormatError as exc:
            return [self._error(BAD_AUDIO, str(exc))]
        if samples.size == 0:
            return []
        return [AudioIn(samples=samples, sample_rate=self.sample_rate_in)]

    def _client_event(self, obj: dict[str, Any]) -> ClientEvent:
        kind = obj["type"]
        if kind == "session.start":
            if self.state is not State.AWAITING_START:
                raise ProtocolError(BAD_STATE, "session.start sent twice")
            start = parse_session_start(obj)
            self.sample_rate_in, self.sample_rate_out = start.sample_rate_in, start.sample_rate_out
            self.state = State.OPEN
            return start
        if kind not in ("input.end", "reply.playback", "session.close"):
            raise ProtocolError(BAD_MESSAGE, f"unknown message type {kind!r}")
        if self.state is State.AWAITING_START:
            raise ProtocolError(BAD_STATE, f"{kind} before session.start")
        if kind == "input.end":
            return InputEnd()
        if kind == "reply.playback":
            reply_id = _field(obj, "reply_id", int, -1)
            played = _field(obj, "played_ms", (int, float), -1)
            if reply_id < 0 or played < 0:
                raise ProtocolError(
                    BAD_MESSAGE, "reply.playback needs reply_id >= 0 and played_ms >= 0"
                )
            return ReplyPlayback(reply_id=reply_id, played_ms=float(played))
        self.state = State.CLOSED
        return SessionClose(reason=_field(obj, "reason", str, "client closed"))

    def _error(self, code: str, message: str, fatal: bool = False) -> ErrorEvent:
        if fatal:
            self.state = State.CLOSED
        return ErrorEvent(code=code, message=message, fatal=fatal)

    # ---- output ----
    def send(self, event: ServerEvent) -> None:
        """Queue a server event for :meth:`outgoing`."""
        self._out.append(event)
        if isinstance(event, SessionClosed) or (isinstance(event, ErrorEvent) and event.fatal):
            self.state = State.CLOSED

    def drop_reply(self, reply_id: int) -> int:
        """Barge-in: drop queued events of ``reply_id`` that do not survive it; returns how many."""
        kept = deque(e for e in self._out if survives_barge_in(e, reply_id))
        dropped = len(self._out) - len(kept)
        self._out = kept
        return dropped

    def outgoing(self) -> list[str | bytes]:
        """Serialized messages queued since the last call."""
        out = [self.serialize(e) for e in self._out]
        self._out.clear()
        return out

    @staticmethod
    def serialize(event: ServerEvent) -> str | bytes:
        """One server event as a wire message."""
        if isinstance(event, ReplyAudio):
            return encode_reply_audio(event.reply_id, event.seq, event.pcm)
        body = {"type": _TYPE_OF[type(event)], **asdict(event)}
        return json.dumps(body, ensure_ascii=False)


class DialogClientProtocol:
    """Client side of ``/v1/dialog``: build client messages, parse server messages."""

    def __init__(self, sample_rate_out: int = 24000) -> None:
        self.sample_rate_out = sample_rate_out

    @staticmethod
    def session_start(start: SessionStart) -> str:
        """The ``session.start`` message."""
        return json.dumps({"type": "session.start", **asdict(start)}, ensure_ascii=False)

    @staticmethod
    def input_end() -> str:
        """The ``input.end`` message."""
        return json.dumps({"type": "input.end"})

    @staticmethod
    def playback(reply_id: int, played_ms: float) -> str:
        """The ``reply.playback`` message."""
        return json.dumps({"type": "reply.playback", "reply_id": reply_id, "played_ms": played_ms})

    @staticmethod
    def close(reason: str = "client closed") -> str:
        """The ``session.close`` message."""
        return json.dumps({"type": "session.close", "reason": reason})

    def parse(self, message: str | bytes) -> ServerEvent:
        """Parse one server message into its event."""
        if isinstance(message, bytes | bytearray | memoryview):
            return decode_reply_audio(bytes(message), self.sample_rate_out)
        obj = _load_json(message)
        cls = SERVER_TYPES.get(obj.pop("type"))
        if cls is None:
            raise ProtocolError(BAD_MESSAGE, "unknown server message type")
        names = {f.name for f in fields(cls)}
        try:
            event = cls(**{k: v for k, v in obj.items() if k in names})
        except TypeError:  # missing fields (found by the fuzz tests)
            raise ProtocolError(BAD_MESSAGE, f"{cls.__name__} message lacks fields") from None
        if isinstance(event, SessionStarted):
            self.sample_rate_out = event.sample_rate_out
        return event
