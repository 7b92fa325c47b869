"""The FunASR runtime WebSocket protocol (``/v1/asr``) as a sans-I/O state machine.

Follows FunASR's ``runtime/docs/websocket_protocol.md`` and its sample client
``runtime/python/websocket/funasr_wss_client.py``:

* The client's first text message configures a stream: ``mode`` (offline | online | 2pass),
  ``wav_name``, ``wav_format`` (pcm), ``audio_fs``, ``is_speaking: true``, ``chunk_size``,
  ``chunk_interval``, ``hotwords``, ``itn`` (plus ``encoder_chunk_look_back`` /
  ``decoder_chunk_look_back``, accepted and ignored).
* Binary messages are PCM16 mono at ``audio_fs`` (default 16000).
* ``{"is_speaking": false}`` ends the input; the client may then start another stream on
  the same connection with a new configuration message.
* Results are JSON ``{"mode", "wav_name", "text", "is_final", "timestamp"}``; ``mode`` is
  ``online`` / ``2pass-online`` for streaming text (*incremental*: each message carries only
  new characters, which the client appends) and ``offline`` / ``2pass-offline`` for the
  final text of an utterance (2pass) or of the whole input (offline). The last result after
  ``is_speaking: false`` has ``is_final: true`` and ``is_end: true`` (the acknowledgement
  newer FunASR clients wait for).

Streaming text from a re-decoding recognizer (Whisper) can change; ``online`` messages only
commit the prefix two successive hypotheses agree on ("local agreement", Macháček et al.,
*Turning Whisper into Real-Time Transcription System*, 2023), and the utterance's final text
completes it.

The machine turns messages into :class:`StreamConfig`, :class:`AudioChunk` and
:class:`EndOfInput` commands for the glue to run through a recognizer, and the glue reports
text back through :meth:`FunASRProtocol.partial`, :meth:`utterance_final` and :meth:`finish`.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tingshuo.core.audio import SUPPORTED_INPUT_RATES, AudioFormatError, pcm16_to_float

MODES = ("offline", "online", "2pass")
UNSUPPORTED_FIELDS = ("svs_lang", "svs_itn")  # SenseVoice-only fields: accepted, ignored


@dataclass(frozen=True)
class StreamConfig:
    """A new recognition stream configured by the client's first message."""

    mode: str = "2pass"
    wav_name: str = "demo"
    wav_format: str = "pcm"
    audio_fs: int = 16000
    chunk_size: tuple[int, int, int] = (5, 10, 5)
    chunk_interval: int = 10
    hotwords: str = ""
    itn: bool = True


@dataclass(frozen=True)
class AudioChunk:
    """PCM from the client, float32 at ``sample_rate``."""

    samples: np.ndarray = field(repr=False)
    sample_rate: int


@dataclass(frozen=True)
class EndOfInput:
    """``is_speaking: false``: finalise everything and acknowledge."""


@dataclass(frozen=True)
class FunASRError:
    """Bad client input; ``fatal`` ones end the connection."""

    message: str
    fatal: bool = False


Command = StreamConfig | AudioChunk | EndOfInput | FunASRError


def parse_hotwords(value: Any) -> str:
    """FunASR sends hotwords as a JSON dict string (``{"阿里巴巴": 20}``) or space/comma text."""
    if value is None or value == "":
        return ""
    if isinstance(value, dict):
        return " ".join(str(k) for k in value)
    text = str(value).strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(obj, dict):
            return " ".join(str(k) for k in obj)
    return " ".join(text.replace(",", " ").split())


def common_prefix(a: str, b: str) -> str:
    """Longest common prefix of two strings."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def remainder(final: str, committed: str) -> str:
    """What ``final`` adds after the already-sent ``committed`` text, ignoring whitespace
    differences (Whisper's final text may space words its partials did not); where the two
    diverge, the rest of ``final`` from the divergence point."""
    i = j = 0
    while i < len(final) and j < len(committed):
        if final[i] == committed[j]:
            i, j = i + 1, j + 1
        elif final[i].isspace():
            i += 1
        elif committed[j].isspace():
            j += 1
        else:
            break
    return final[i:].lstrip() if j else final[i:]


class FunASRProtocol:
    """Server side of the FunASR runtime protocol for one connection."""

    def __init__(self, max_frame_bytes: int = 1 << 20) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.config: StreamConfig | None = None
        self.speaking = False
        self._out: deque[str] = deque()
        self._committed = ""  # online text already sent for the open utterance
        self._previous = ""  # previous partial hypothesis of the open utterance

    # ---- input ----
    def receive_text(self, text: str) -> list[Command]:
        """Parse a JSON control message."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            return [FunASRError(f"not valid JSON: {exc.msg}")]
        except RecursionError:  # found by tests/test_fuzz_protocol_funasr.py
            return [FunASRError("JSON nested too deeply")]
        if not isinstance(obj, dict):
            return [FunASRError("a control message must be a JSON object")]
        speaking = obj.get("is_speaking", True if "mode" in obj else None)
        if speaking is False:
            if not self.speaking:
                return [FunASRError("is_speaking: false without an open stream")]
            self.speaking = False
            return [EndOfInput()]
        if self.speaking and "mode" not in obj:
            return []  # FunASR clients may resend partial settings mid-stream; nothing to do
        try:
            config = self._parse_config(obj)
        except ValueError as exc:
            return [FunASRError(str(exc))]
        self.config = config
        self.speaking = True
        self._committed = self._previous = ""
        return [config]

    def _parse_config(self, obj: dict[str, Any]) -> StreamConfig:
        base = self.config or StreamConfig()
        mode = obj.get("mode", base.mode)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        fmt = str(obj.get("wav_format", "pcm") or "pcm").lower()
        if fmt not in ("pcm", "wav"):
            raise ValueError(f"wav_format {fmt!r} is not supported (pcm or wav only)")
        fs = obj.get("audio_fs", 16000)
        if not isinstance(fs, int) or isinstance(fs, bool) or fs not in SUPPORTED_INPUT_RATES:
            raise ValueError(f"audio_fs must be one of {list(SUPPORTED_INPUT_RATES)}, got {fs!r}")
        chunk = obj.get("chunk_size", list(base.chunk_size))
        if isinstance(chunk, str):
            chunk = chunk.split(",")
        try:
            chunk_t = tuple(int(x) for x in chunk)
        except (TypeError, ValueError):
            raise ValueError(f"chunk_size must be three integers, got {chunk!r}") from None
        if len(chunk_t) != 3 or min(chunk_t) < 0:
            raise ValueError(f"chunk_size must be three non-negative integers, got {chunk!r}")
        interval = obj.get("chunk_interval", 10)
        if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
            raise ValueError(f"chunk_interval must be a positive integer, got {interval!r}")
        return StreamConfig(
            mode=mode,
            wav_name=str(obj.get("wav_name", "demo") or "demo"),
            wav_format=fmt,
            audio_fs=fs,
            chunk_size=chunk_t,  # type: ignore[arg-type]
            chunk_interval=interval,
            hotwords=parse_hotwords(obj.get("hotwords", obj.get("hotword"))),
            itn=bool(obj.get("itn", True)),
        )

    def receive_bytes(self, data: bytes) -> list[Command]:
        """Parse a binary PCM message."""
        if not self.speaking or self.config is None:
            return [FunASRError("audio before the configuration message", fatal=True)]
        if len(data) > self.max_frame_bytes:
            return [
                FunASRError(f"audio frame larger than {self.max_frame_bytes} bytes", fatal=True)
            ]
        try:
            samples = pcm16_to_float(bytes(data))
        except AudioFormatError as exc:
            return [FunASRError(str(exc))]
        return [AudioChunk(samples, self.config.audio_fs)] if samples.size else []

    # ---- results from the recognizer ----
    def _send(
        self, mode: str, text: str, is_final: bool, timestamp: str = "", end: bool = False
    ) -> None:
        assert self.config is not None
        msg: dict[str, Any] = {
            "mode": mode,
            "wav_name": self.config.wav_name,
            "text": text,
            "is_final": is_final,
        }
        if timestamp:
            msg["timestamp"] = timestamp
        if end:
            msg["is_end"] = True
        self._out.append(json.dumps(msg, ensure_ascii=False))

    def partial(self, text: str) -> None:
        """A streaming hypothesis of the open utterance (online and 2pass modes)."""
        if self.config is None or self.config.mode == "offline":
            return
        stable = common_prefix(self._previous, text) if self._previous else ""
        self._previous = text
        if len(stable) > len(self._committed) and stable.startswith(self._committed):
            delta = stable[len(self._committed) :]
            self._committed = stable
            mode = "online" if self.config.mode == "online" else "2pass-online"
            self._send(mode, delta, is_final=False)

    def utterance_final(self, text: str, start_s: float, end_s: float, last: bool = False) -> None:
        """Final text of one utterance (online and 2pass modes)."""
        if self.config is None or self.config.mode == "offline":
            return
        stamp = json.dumps([[round(start_s * 1000), round(end_s * 1000)]])
        if self.config.mode == "online":
            rest = remainder(text, self._committed)
            if rest or last:
                self._send("online", rest, is_final=last, timestamp=stamp, end=last)
        else:
            self._send("2pass-offline", text, is_final=last, timestamp=stamp, end=last)
        self._committed = self._previous = ""

    def offline_result(self, text: str, segments: list[tuple[float, float]]) -> None:
        """The whole input's text (offline mode); always the final message of the stream."""
        stamp = json.dumps([[round(s * 1000), round(e * 1000)] for s, e in segments])
        self._send("offline", text, is_final=True, timestamp=stamp if segments else "", end=True)

    def finish(self) -> None:
        """End-of-input acknowledgement when no result carried ``is_final`` (no speech heard)."""
        if self.config is None:
            return
        mode = {"offline": "offline", "online": "online", "2pass": "2pass-offline"}[
            self.config.mode
        ]
        self._send(mode, "", is_final=True, end=True)

    def error(self, message: str) -> None:
        """Report a recognition failure in the acknowledgement shape newer clients expect."""
        self._out.append(json.dumps({"is_end": True, "is_final": False, "error": message}))

    def outgoing(self) -> list[str]:
        """JSON messages queued since the last call."""
        out = list(self._out)
        self._out.clear()
        return out
