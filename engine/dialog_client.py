"""An asyncio ``/v1/dialog`` client: used by ``tingshuo talk/converse``, the benchmark and tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tingshuo.core.audio import Audio, float_to_pcm16, resample
from tingshuo.engine.events import (
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyText,
    ReplyTextDelta,
    ServerEvent,
    SessionClosed,
    SessionStart,
    SessionStarted,
)
from tingshuo.engine.protocol.dialog import DialogClientProtocol


@dataclass
class ReplyRecord:
    """Everything received about one reply."""

    reply_id: int
    text: str = ""
    emotion: str = ""
    pcm: list[bytes] = field(default_factory=list)
    first_audio_at: float | None = None
    done: bool = False
    interrupted: ReplyInterrupted | None = None

    def audio(self, sample_rate: int) -> Audio:
        """The reply's audio received so far."""
        data = b"".join(self.pcm)
        return Audio(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, sample_rate)


class DialogClient:
    """One session over a websockets connection; events are timestamped as they arrive."""

    def __init__(
        self,
        url: str,
        start: SessionStart | None = None,
        on_event: Callable[[float, ServerEvent], None] | None = None,
    ) -> None:
        self.url, self.start = url, start or SessionStart()
        self.proto = DialogClientProtocol(self.start.sample_rate_out)
        self.events: list[tuple[float, ServerEvent]] = []
        self.replies: dict[int, ReplyRecord] = {}
        self.on_event = on_event
        self.session: SessionStarted | None = None
        self._ws: Any = None  # websockets ClientConnection once entered
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.closed: SessionClosed | None = None
        self.error: BaseException | None = None

    async def __aenter__(self) -> DialogClient:
        import websockets

        self._ws = await websockets.connect(self.url, max_size=None)
        await self._ws.send(self.proto.session_start(self.start))
        self._reader = asyncio.create_task(self._read())
        await self.wait_for(SessionStarted, 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self._ws.send(self.proto.close("client done"))
            await asyncio.wait_for(self.wait_for(SessionClosed), 5)
        await self._ws.close()
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        import websockets

        try:
            async for message in self._ws:
                now = time.perf_counter()
                event = self.proto.parse(message)
                self.events.append((now, event))
                self._track(now, event)
                if self.on_event:
                    self.on_event(now, event)
                self._changed.set()
        except websockets.ConnectionClosed as exc:
            self.error = exc
        except Exception as exc:  # a message this client cannot parse
            self.error = exc
        finally:
            self._changed.set()

    def _track(self, now: float, event: ServerEvent) -> None:
        if isinstance(event, SessionStarted):
            self.session = event
        elif isinstance(event, SessionClosed):
            self.closed = event
        rid = getattr(event, "reply_id", None)
        if rid is None:
            return
        rec = self.replies.setdefault(rid, ReplyRecord(rid))
        if isinstance(event, ReplyTextDelta):  # a streamed reply's text so far
            rec.text, rec.emotion = rec.text + event.delta, event.emotion
        elif isinstance(event, ReplyText):  # the whole text (after the deltas, if streamed)
            rec.text, rec.emotion = event.text, event.emotion
        elif isinstance(event, ReplyAudio):
            rec.pcm.append(event.pcm)
            rec.first_audio_at = rec.first_audio_at or now
        elif isinstance(event, ReplyDone):
            rec.done = True
        elif isinstance(event, ReplyInterrupted):
            rec.interrupted = event

    def of(self, kind: type) -> list:
        """Received events of one type, in order."""
        return [e for _, e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type, timeout: float = 60.0, count: int = 1) -> ServerEvent:
        """Wait until ``count`` events of ``kind`` have arrived; returns the last of them."""

        async def poll() -> ServerEvent:
            while len(self.of(kind)) < count:
                if self._reader is not None and self._reader.done():
                    raise ConnectionError(
                        f"connection ended before {kind.__name__}: {self.error!r}"
                    )
                self._changed.clear()
                await self._changed.wait()
            return self.of(kind)[count - 1]

        return await asyncio.wait_for(poll(), timeout)

    async def send_audio(self, samples: np.ndarray) -> None:
        """Send float32 samples at the session's input rate as PCM16."""
        await self._ws.send(float_to_pcm16(samples))

    async def stream(self, audio: Audio, realtime: bool = True, frame_ms: int = 20) -> float:
        """Send ``audio`` in frames (paced in real time unless ``realtime`` is False).

        Returns the ``perf_counter`` time at which the last frame was sent.
        """
        rate = self.start.sample_rate_in
        samples = resample(audio.samples, audio.sample_rate, rate)
        step = rate * frame_ms // 1000
        t0 = time.perf_counter()
        for n, i in enumerate(range(0, len(samples), step)):
            await self.send_audio(samples[i : i + step])
            if realtime:
                delay = t0 + (n + 1) * frame_ms / 1000 - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
        return time.perf_counter()

    async def input_end(self) -> None:
        """Tell the server no more audio follows for now."""
        await self._ws.send(self.proto.input_end())

    async def playback(self, reply_id: int, played_ms: float) -> None:
        """Report playback progress."""
        await self._ws.send(self.proto.playback(reply_id, played_ms))
