"""Size limits and idle / total session timeouts."""

from __future__ import annotations

import asyncio

import pytest

from tingshuo.engine.config import SecurityConfig
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
from tingshuo.engine.security.sizes import SessionClock, SizeLimits


def test_limits_from_config() -> None:
    limits = SizeLimits.from_config(
        SecurityConfig(
            max_ws_message_bytes=10, max_frame_bytes=20, max_upload_bytes=30, max_text_chars=4
        )
    )
    limits.check_message("x" * 10)
    limits.check_frame(b"\0" * 20)
    limits.check_upload(30)
    limits.check_text("四个汉字")
    cases = [
        (lambda: limits.check_message("汉字汉字"), LIMIT_MESSAGE),  # 12 UTF-8 bytes
        (lambda: limits.check_message(b"x" * 11), LIMIT_MESSAGE),
        (lambda: limits.check_frame(b"\0" * 21), LIMIT_FRAME),
        (lambda: limits.check_upload(31), LIMIT_UPLOAD),
        (lambda: limits.check_text("五个汉字啊"), LIMIT_TEXT),
    ]
    for call, code in cases:
        with pytest.raises(SizeLimitError) as err:
            call()
        assert err.value.code == code
        assert err.value.http_status == 413 and err.value.ws_close_code == 1009


def test_zero_disables_a_limit() -> None:
    SizeLimits(0, 0, 0, 0).check_text("x" * 100_000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_session_clock_idle_and_total() -> None:
    clock = FakeClock()
    timer = SessionClock(idle_timeout_s=10, session_timeout_s=25, clock=clock)
    assert timer.remaining() == 10
    clock.now = 9
    timer.check()
    timer.touch()
    assert timer.remaining() == 10
    clock.now = 18.5
    timer.touch()
    assert timer.remaining() == pytest.approx(6.5)  # total deadline is nearer
    clock.now = 25
    with pytest.raises(SessionTimeoutError) as err:
        timer.check()
    assert err.value.code == TIMEOUT_SESSION
    idle = SessionClock(idle_timeout_s=10, session_timeout_s=0, clock=clock)
    clock.now += 10
    with pytest.raises(SessionTimeoutError) as err:
        idle.check()
    assert err.value.code == TIMEOUT_IDLE
    assert SessionClock(0, 0, clock).remaining() == float("inf")


def test_receive_times_out_and_cancels_the_pending_receive() -> None:
    cancelled = asyncio.Event()

    async def never() -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "unreachable"

    async def main() -> None:
        timer = SessionClock(idle_timeout_s=0.05, session_timeout_s=10)
        with pytest.raises(SessionTimeoutError) as err:
            await timer.receive(never)
        assert err.value.code == TIMEOUT_IDLE
        assert cancelled.is_set()

        queue: asyncio.Queue[str] = asyncio.Queue()
        timer = SessionClock(idle_timeout_s=1.0, session_timeout_s=10)
        queue.put_nowait("hello")
        assert await timer.receive(queue.get) == "hello"

    asyncio.run(main())


def test_expired_error_names_the_nearer_deadline_even_if_woken_early() -> None:
    clock = FakeClock()
    timer = SessionClock(idle_timeout_s=10, session_timeout_s=25, clock=clock)
    clock.now = 9.999  # a timer that fired a hair before the idle deadline
    assert timer.expired_error().code == TIMEOUT_IDLE
    clock.now = 20.0
    timer.touch()
    clock.now = 24.999  # ... and before the total one
    assert timer.expired_error().code == TIMEOUT_SESSION
    assert SessionClock(0, 5, clock).expired_error().code == TIMEOUT_SESSION
