"""``/v1/asr``: the FunASR runtime protocol bridged to the recognizer (logic in protocol.funasr)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from tingshuo.asr.base import ASR_SAMPLE_RATE, FinalResult, PartialResult
from tingshuo.core.audio import Audio, resample
from tingshuo.engine.app import engine_state
from tingshuo.engine.protocol.funasr import (
    AudioChunk,
    EndOfInput,
    FunASRError,
    FunASRProtocol,
    StreamConfig,
)
from tingshuo.engine.security.errors import SecurityError
from tingshuo.engine.services import Services
from tingshuo.engine.workers import Priority

log = logging.getLogger(__name__)
router = APIRouter()


class _Stream:
    """One FunASR stream (from a configuration message to ``is_speaking: false``)."""

    def __init__(self, services: Services, proto: FunASRProtocol, config: StreamConfig) -> None:
        self.services, self.proto, self.config = services, proto, config
        # a transcription stream, not a dialogue turn: finals at long pauses only, so each
        # final decodes as much context as a file would (asr.transcription_endpoint)
        self.rec = (
            services.recognizer.create_stream(profile="transcription")
            if config.mode != "offline"
            else None
        )
        self.buffer: list[np.ndarray] = []  # offline mode: the whole input at 16 kHz

    async def feed(self, chunk: AudioChunk) -> None:
        samples = resample(chunk.samples, chunk.sample_rate, ASR_SAMPLE_RATE)
        if self.rec is None:
            self.buffer.append(samples)
            return
        self.rec.accept_waveform(ASR_SAMPLE_RATE, samples)
        while self.rec.is_ready:
            priority = Priority.FINAL if self.rec.is_endpoint else Priority.PARTIAL
            events = await self.services.run("asr", self.rec.decode, priority=priority)
            await self._results(events, last=False)

    async def _final_text(self, final: FinalResult) -> str:
        """The utterance's final text; with hotwords the offline pass re-decodes it with them."""
        if self.config.mode == "2pass" and self.config.hotwords:
            t = await self.services.transcribe(
                final.audio, itn=self.config.itn, hotwords=self.config.hotwords
            )
            return t.text
        text = final.transcript.text
        if self.config.itn and not self.services.config.asr.itn:
            from tingshuo.asr.textproc import inverse_normalize

            text = inverse_normalize(text)
        return text

    async def _results(self, events: list, last: bool) -> None:  # noqa: ANN001
        finals = [e for e in events if isinstance(e, FinalResult)]
        for ev in events:
            if isinstance(ev, PartialResult):
                self.proto.partial(ev.text)
            elif isinstance(ev, FinalResult):
                is_last = last and ev is finals[-1]
                self.proto.utterance_final(
                    await self._final_text(ev), ev.start, ev.end, last=is_last
                )
        if last and not finals:
            self.proto.finish()

    async def end(self) -> None:
        if self.rec is None:
            if not self.buffer:
                self.proto.finish()
                return
            audio = Audio(np.concatenate(self.buffer), ASR_SAMPLE_RATE)
            t = await self.services.transcribe(
                audio, itn=self.config.itn, hotwords=self.config.hotwords
            )
            spans = [(s.start, s.end) for s in t.segments] or [(0.0, audio.duration)]
            self.proto.offline_result(t.text, spans)
            return
        self.rec.input_finished()
        events: list = []
        while self.rec.is_ready:
            events += await self.services.run("asr", self.rec.decode, priority=Priority.FINAL)
        await self._results(events, last=True)
        self.rec.reset()


@router.websocket("/")
@router.websocket("/v1/asr")
async def funasr(ws: WebSocket) -> None:
    """FunASR-runtime-compatible streaming recognition (docs/protocol.md).

    Also served at ``/``, the path FunASR's own clients connect to.
    """
    state = engine_state(ws)
    sec = state.config.security
    wants_binary = "binary" in ws.scope.get("subprotocols", [])
    await ws.accept(subprotocol="binary" if wants_binary else None)
    if not state.ready:
        await ws.send_json({"is_end": True, "is_final": False, "error": "engine not ready"})
        await ws.close(1013)
        return
    services = state.services
    assert services is not None  # ready implies loaded
    guard, grant = state.guard, None
    try:  # Origin + cap, then a key/token from headers or ?token= (docs/security.md)
        guard.admit(ws)
    except SecurityError as exc:
        await ws.send_json(
            {"is_end": True, "is_final": False, "error": exc.message, "code": exc.code}
        )
        await ws.close(exc.ws_close_code)
        return
    try:
        grant = await guard.start_session(ws, guard.ws_credential(ws))
    except SecurityError as exc:
        guard.release()
        await ws.send_json(
            {"is_end": True, "is_final": False, "error": exc.message, "code": exc.code}
        )
        await ws.close(exc.ws_close_code)
        return
    clock = guard.clock()
    proto = FunASRProtocol(max_frame_bytes=min(sec.max_ws_message_bytes, sec.max_frame_bytes))
    stream: _Stream | None = None
    state.asr_connections += 1
    metrics = services.metrics
    metrics.active_sessions.labels("asr").inc()
    try:
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), clock.wait_s())
            except TimeoutError:
                err = clock.expired_error()
                await ws.send_json(
                    {"is_end": True, "is_final": False, "error": err.message, "code": err.code}
                )
                break
            clock.touch()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes") is not None:
                commands = proto.receive_bytes(message["bytes"])
            else:
                commands = proto.receive_text(message.get("text") or "")
            fatal = False
            for cmd in commands:
                if isinstance(cmd, StreamConfig):
                    stream = _Stream(services, proto, cmd)
                elif isinstance(cmd, AudioChunk) and stream is not None:
                    try:
                        await grant.meter.add(cmd.samples.size / cmd.sample_rate)
                    except SecurityError as exc:  # rate.audio
                        await ws.send_json(
                            {
                                "is_end": True,
                                "is_final": False,
                                "error": exc.message,
                                "code": exc.code,
                            }
                        )
                        fatal = True
                        break
                    await stream.feed(cmd)
                elif isinstance(cmd, EndOfInput) and stream is not None:
                    try:
                        await stream.end()
                    except Exception as exc:
                        log.exception("funasr stream failed")
                        proto.error(f"recognition failed: {exc}")
                    stream = None
                elif isinstance(cmd, FunASRError):
                    metrics.errors.labels("funasr_bad_message").inc()
                    await ws.send_json({"error": cmd.message, "is_final": False})
                    fatal = fatal or cmd.fatal
            for text in proto.outgoing():
                await ws.send_text(text)
            if fatal:
                break
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("funasr connection failed")
    finally:
        state.asr_connections -= 1
        guard.release()
        await guard.end_session(grant)
        metrics.active_sessions.labels("asr").dec()
        if stream is not None and stream.rec is not None:
            stream.rec.reset()
        if ws.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(1000)
