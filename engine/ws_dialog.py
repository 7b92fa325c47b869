"""``/v1/dialog``: moves bytes between a WebSocket and a :class:`Session` (no logic here)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from tingshuo.engine.app import engine_state
from tingshuo.engine.events import (
    SHUTTING_DOWN,
    UNAUTHORIZED,
    UNKNOWN_VOICE,
    AudioIn,
    ClientEvent,
    ErrorEvent,
    ReplyAudio,
    SessionClose,
    SessionStart,
)
from tingshuo.engine.logs import bind
from tingshuo.engine.protocol.dialog import DialogServerProtocol
from tingshuo.engine.security.errors import SecurityError
from tingshuo.engine.session import Session

log = logging.getLogger(__name__)
router = APIRouter()


async def _send(ws: WebSocket, data: str | bytes) -> None:
    if isinstance(data, bytes):
        await ws.send_bytes(data)
    else:
        await ws.send_text(data)


async def _writer(ws: WebSocket, session: Session, proto: DialogServerProtocol) -> None:
    """Drain the session's queue onto the socket, telling the session what went out."""
    try:
        while (event := await session.out.get()) is not None:
            if isinstance(event, ReplyAudio):
                # counted as sent once taken off the queue: nothing can stop it any more, so a
                # barge-in arriving during the send still reports it in sent_ms
                session.on_sent(event)
            await _send(ws, proto.serialize(event))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # peer gone; the reader side closes the session


def _check_voice(session_voice: str, state) -> str:  # noqa: ANN001
    if not session_voice:
        return ""
    names = [v.name for v in state.services.synthesizer.voices()]
    if session_voice not in names:
        return f"unknown voice {session_voice!r}; available: {', '.join(names)}"
    return ""


async def _receive(
    ws: WebSocket, session: Session | None, timeout: float | None
) -> MutableMapping[str, Any] | None:
    """The next client message; ``None`` when the session closed first (e.g. server drain)."""
    receive = asyncio.ensure_future(ws.receive())
    if session is None:
        return await asyncio.wait_for(receive, timeout)
    closed = asyncio.ensure_future(session.closed_event.wait())
    done, _ = await asyncio.wait(
        {receive, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    closed.cancel()
    if receive in done:
        return receive.result()
    receive.cancel()
    await asyncio.gather(receive, return_exceptions=True)
    if closed in done:
        return None
    raise TimeoutError


@router.websocket("/v1/dialog")
async def dialog(ws: WebSocket) -> None:
    """The engine's own dialogue protocol (docs/protocol.md)."""
    state = engine_state(ws)
    sec = state.config.security
    await ws.accept()
    proto = DialogServerProtocol(max_frame_bytes=sec.max_ws_message_bytes)

    async def reject(code: str, message: str, close_code: int | None = None) -> None:
        await _send(ws, proto.serialize(ErrorEvent(code, message, fatal=True)))
        await ws.close(close_code or (1008 if code == UNAUTHORIZED else 1013))

    if not state.ready:
        await reject(SHUTTING_DOWN, "the engine is not ready (loading or shutting down)")
        return
    guard, grant, clock = state.guard, None, state.guard.clock()
    try:
        guard.admit(ws)  # Origin allowlist + connection cap (docs/security.md)
    except SecurityError as exc:
        await reject(exc.code, exc.message, exc.ws_close_code)
        return
    session: Session | None = None
    writer: asyncio.Task[None] | None = None
    state.dialog_connections += 1
    try:
        while True:
            try:
                message = await _receive(ws, session, clock.wait_s())
            except TimeoutError:
                err = clock.expired_error()  # timeout.idle or timeout.session
                if session is not None:
                    await session.out.put(ErrorEvent(err.code, err.message, True), force=True)
                    await session.close(err.code)
                else:
                    await reject(err.code, err.message, err.ws_close_code)
                break
            clock.touch()
            if message is None or message["type"] == "websocket.disconnect":
                break
            events: list[ClientEvent | ErrorEvent]
            if message.get("bytes") is not None:
                try:
                    guard.sizes.check_frame(message["bytes"])
                except SecurityError as exc:  # limit.frame_size: dropped, session goes on
                    events = [ErrorEvent(exc.code, exc.message)]
                else:
                    events = proto.receive_bytes(message["bytes"])
            else:
                events = proto.receive_text(message.get("text") or "")
            for event in events:
                if isinstance(event, ErrorEvent):
                    if session is not None:
                        await session.out.put(event, force=True)
                        if event.fatal:
                            await session.close(f"{event.code}: {event.message}")
                    else:
                        await _send(ws, proto.serialize(event))
                        if event.fatal:
                            await ws.close(1008)
                            return
                elif isinstance(event, SessionStart):
                    try:  # auth.* / rate.sessions
                        grant = await guard.start_session(ws, guard.ws_credential(ws, event.token))
                    except SecurityError as exc:
                        await reject(exc.code, exc.message, exc.ws_close_code)
                        return
                    problem = _check_voice(event.voice, state)
                    if problem:
                        await reject(UNKNOWN_VOICE, problem)
                        return
                    assert state.services is not None  # ready implies loaded
                    session = Session(state.services, event)
                    state.sessions.add(session)
                    bind(session=session.id)  # this connection's tasks log with its id
                    writer = asyncio.create_task(_writer(ws, session, proto))
                    await session.open()
                elif session is not None:
                    if isinstance(event, AudioIn) and grant is not None:
                        try:
                            await grant.meter.add(event.samples.size / event.sample_rate)
                        except SecurityError as exc:  # rate.audio
                            await session.out.put(
                                ErrorEvent(exc.code, exc.message, True), force=True
                            )
                            await session.close(exc.code)
                            break
                    await session.handle(event)
                    if isinstance(event, SessionClose):
                        break
            if session is not None and session.closed:
                break
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("dialog connection failed")
    finally:
        if session is not None:
            await session.close(session.close_reason or "connection closed")
            state.sessions.discard(session)
        if writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 5.0)
            writer.cancel()
        if ws.client_state is WebSocketState.CONNECTED:
            going_away = not state.accepting
            with contextlib.suppress(Exception):
                await ws.close(1001 if going_away else 1000)
        state.dialog_connections -= 1
        guard.release()
        await guard.end_session(grant)
