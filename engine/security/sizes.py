"""Size limits on what clients send, and idle / total session timeouts.

The server calls these where data arrives: :meth:`SizeLimits.check_message` on every
WebSocket text message, :meth:`SizeLimits.check_frame` on every binary audio frame,
:meth:`SizeLimits.check_upload` on uploads (also while streaming one, with the running total),
:meth:`SizeLimits.check_text` on text to synthesize. A :class:`SessionClock` tells the receive
loop how long it may wait for the next message and which timeout fired.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tingshuo.engine.security.errors import (
    LIMIT_FRAME,
    LIMIT_MESSAGE,
    LIMIT_TEXT,
    LIMIT_UPLOAD,
    TIMEOUT_IDLE,
    TIMEOUT_SESSION,
    SessionTimeoutError,
    SizeLimitError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class SizeLimits:
    """Byte and character limits from ``SecurityConfig`` (0 disables one)."""

    message_bytes: int = 1 << 20
    frame_bytes: int = 192_000
    upload_bytes: int = 25 << 20
    text_chars: int = 5000

    @classmethod
    def from_config(cls, security: object) -> SizeLimits:
        """Build from a :class:`engine.config.SecurityConfig`."""
        s = security
        return cls(
            s.max_ws_message_bytes,  # type: ignore[attr-defined]
            s.max_frame_bytes,  # type: ignore[attr-defined]
            s.max_upload_bytes,  # type: ignore[attr-defined]
            s.max_text_chars,  # type: ignore[attr-defined]
        )

    @staticmethod
    def _check(code: str, what: str, size: int, limit: int, unit: str = "bytes") -> None:
        if limit > 0 and size > limit:
            raise SizeLimitError(
                code, f"{what} is {size} {unit}; the limit is {limit}", limit, size
            )

    def check_message(self, data: str | bytes) -> None:
        """A WebSocket control (text) message; counts UTF-8 bytes."""
        size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
        self._check(LIMIT_MESSAGE, "message", size, self.message_bytes)

    def check_frame(self, data: bytes) -> None:
        """A binary audio frame."""
        self._check(LIMIT_FRAME, "audio frame", len(data), self.frame_bytes)

    def check_upload(self, size: int) -> None:
        """An upload (a declared Content-Length, or the bytes read so far)."""
        self._check(LIMIT_UPLOAD, "upload", int(size), self.upload_bytes)

    def check_text(self, text: str) -> None:
        """Text to synthesize, in characters."""
        self._check(LIMIT_TEXT, "text", len(text), self.text_chars, "characters")


class SessionClock:
    """Idle and total deadlines for one session (monotonic time)."""

    def __init__(
        self,
        idle_timeout_s: float,
        session_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.session_timeout_s = session_timeout_s
        self._clock = clock
        self.started = clock()
        self.last_activity = self.started

    def touch(self) -> None:
        """Record client activity (a message arrived)."""
        self.last_activity = self._clock()

    def remaining(self) -> float:
        """Seconds until the nearer deadline (may be <= 0)."""
        now = self._clock()
        deadlines = []
        if self.idle_timeout_s > 0:
            deadlines.append(self.last_activity + self.idle_timeout_s - now)
        if self.session_timeout_s > 0:
            deadlines.append(self.started + self.session_timeout_s - now)
        return min(deadlines) if deadlines else float("inf")

    def check(self) -> None:
        """Raise :class:`SessionTimeoutError` (timeout.idle / timeout.session) when one passed."""
        now = self._clock()
        if self.session_timeout_s > 0 and now - self.started >= self.session_timeout_s:
            raise SessionTimeoutError(
                TIMEOUT_SESSION, f"session exceeded {self.session_timeout_s:g} s"
            )
        if self.idle_timeout_s > 0 and now - self.last_activity >= self.idle_timeout_s:
            raise SessionTimeoutError(TIMEOUT_IDLE, f"no message for {self.idle_timeout_s:g} s")

    def expired_error(self) -> SessionTimeoutError:
        """The timeout that has passed (or is nearest): timeout.session or timeout.idle."""
        try:
            self.check()
        except SessionTimeoutError as exc:
            return exc
        # A timer may fire a hair early (the event loop's clock resolution): name the nearer one.
        now = self._clock()
        idle_left = (
            self.last_activity + self.idle_timeout_s - now if self.idle_timeout_s > 0 else None
        )
        total_left = (
            self.started + self.session_timeout_s - now if self.session_timeout_s > 0 else None
        )
        if total_left is not None and (idle_left is None or total_left <= idle_left):
            return SessionTimeoutError(
                TIMEOUT_SESSION, f"session exceeded {self.session_timeout_s:g} s"
            )
        return SessionTimeoutError(TIMEOUT_IDLE, f"no message for {self.idle_timeout_s:g} s")

    def wait_s(self) -> float | None:
        """How long a receive may wait now (``None``: no deadline), never negative."""
        left = self.remaining()
        return None if left == float("inf") else max(0.0, left)

    async def receive(self, receive: Callable[[], Awaitable[T]]) -> T:
        """Await ``receive()`` until the nearer deadline; touch on success.

        Raises :class:`SessionTimeoutError` when a deadline passes first. The pending receive
        is cancelled, so nothing is left running.
        """
        self.check()
        wait = self.remaining()
        try:
            if wait == float("inf"):
                result = await receive()
            else:
                result = await asyncio.wait_for(receive(), timeout=max(wait, 0.0))
        except TimeoutError:
            self.check()
            raise SessionTimeoutError(TIMEOUT_IDLE, "timed out") from None
        self.touch()
        return result
