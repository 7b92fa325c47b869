"""Synthesis over HTTP: ``/api/synthesize``, ``/download/{id}``, OpenAI ``/v1/audio/speech``."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio
import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import Emotion, UnknownEmotionError, parse_emotion
from tingshuo.engine.app import (
    ApiError,
    check_address_rate,
    check_api_key,
    engine_state,
    require_services,
)
from tingshuo.engine.audio_encode import FORMATS, StreamEncoder
from tingshuo.engine.services import Services
from tingshuo.engine.workers import DeadlineExceededError, Priority
from tingshuo.tts.base import SSMLError, Style, UnknownVoiceError
from tingshuo.tts.kokoro_voices import voice_for_name

router = APIRouter(dependencies=[Depends(check_api_key)])
# Download URLs are capabilities (192-bit random ids that expire), so an <audio src> works
# without a key; they are still rate-limited per address (docs/security.md).
public_router = APIRouter(dependencies=[Depends(check_address_rate)])
log = logging.getLogger(__name__)


class SynthesizeRequest(BaseModel):
    """Body of ``POST /api/synthesize``."""

    text: str = Field(..., description="Text (or SSML) to speak")
    emotion: str = Field("neutral", description="neutral happy angry sad fear hate surprise")
    intensity: float = Field(1.0, ge=0.0, le=2.0)
    voice: str = Field("", description="Voice name; empty: the default")
    format: Literal["url", "base64", "wav"] = "url"
    sample_rate: int | None = Field(  # bounded: a negative rate was a 500 (schemathesis)
        None, ge=8000, le=48000, description="Output rate; empty: the model's"
    )
    speed: float = Field(1.0, ge=0.25, le=4.0)


class SynthesizeResult(BaseModel):
    """Answer of ``POST /api/synthesize`` for ``url`` and ``base64``."""

    url: str | None = None
    id: str | None = None
    expires_in: float | None = None
    audio_base64: str | None = None
    media_type: str = "audio/wav"
    sample_rate: int
    duration: float
    voice: str
    emotion: str


_TAG = re.compile(r"<[^>]*>")


def speakable(text: str) -> bool:
    """Whether ``text`` (plain or SSML) has anything to say: a letter or digit outside tags.

    Punctuation and whitespace alone (``。。。``) would synthesize a zero-length clip.
    """
    return any(ch.isalnum() for ch in _TAG.sub(" ", text))


def check_text(state, text: str) -> str:  # noqa: ANN001
    """Non-empty, speakable and within the configured length."""
    text = text.strip()
    if not text:
        raise ApiError(400, "empty_text", "text is empty")
    if not speakable(text):
        raise ApiError(
            400, "nothing_to_speak", "text has no letters or digits to speak (only punctuation)"
        )
    limit = state.config.security.max_text_chars
    if len(text) > limit:
        raise ApiError(
            413, "text_too_long", f"text has {len(text)} characters; the limit is {limit}"
        )
    return text


class BoundedStreamingResponse(StreamingResponse):
    """A streamed body whose client must take each chunk within ``send_timeout_s``.

    A client that stops reading would otherwise hold its request slot (and a suspended
    synthesis) for as long as the connection stays open: past the timeout the body is
    closed (its synthesis cancelled), the connection dropped, and the cut counted.
    """

    def __init__(self, *args: Any, send_timeout_s: float = 0.0, metrics: Any = None, **kw: Any):
        super().__init__(*args, **kw)
        self.send_timeout_s = send_timeout_s
        self.metrics = metrics

    async def stream_response(self, send: Any) -> None:
        """Starlette's, with each ``send`` bounded."""
        if self.send_timeout_s <= 0:
            await super().stream_response(send)
            return

        async def bounded(message: Any) -> None:
            with anyio.fail_after(self.send_timeout_s):
                await send(message)

        try:
            await super().stream_response(bounded)
        except TimeoutError:
            log.warning("client took no audio for %.0f s; stream closed", self.send_timeout_s)
            if self.metrics is not None:
                self.metrics.errors.labels("slow_reader").inc()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


def request_deadline(services: Services) -> float | None:
    """The ``time.monotonic()`` by which a new HTTP request's model work must have started
    (``server.request_timeout_s``; None: no deadline)."""
    return services.request_deadline()


async def _chunks(
    request: Request, services: Services, text: str, style: Style, voice: str | None, sliding: bool
) -> AsyncIterator[Audio]:
    """Admitted, deadline-bounded synthesis, one scheduler job per segment.

    Admission control first (503 ``overloaded``); then the synthesizer streams with an
    executor bound to the INTERACTIVE class and the request's deadline, so live sessions
    overtake it between segments, and segments not yet started are dropped when the
    deadline passes or the consumer stops (the client went away). ``sliding``: the deadline
    (``server.request_timeout_s``) restarts with each segment delivered — a streamed body
    runs as long as its client keeps reading and segments keep coming; otherwise it bounds
    the whole request.
    """
    services.start()
    assert services.pool is not None
    with services.pool.request(Priority.INTERACTIVE):
        deadline = request_deadline(services)
        executor = services.executor("synthesize", Priority.INTERACTIVE, deadline)
        stream = services.synthesizer.stream(text, style, voice, executor)
        try:
            async for chunk in stream:
                yield chunk
                if sliding:
                    deadline = request_deadline(services)
                    executor.deadline = deadline
                elif deadline is not None and time.monotonic() > deadline:
                    raise DeadlineExceededError("the request's deadline passed mid-synthesis")
        except UnknownVoiceError as exc:
            raise ApiError(400, "unknown_voice", str(exc)) from None
        except SSMLError as exc:
            raise ApiError(400, "bad_ssml", str(exc)) from None
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


async def open_synthesis(
    request: Request,
    services: Services,
    text: str,
    style: Style,
    voice: str | None,
    streamed: bool = True,
) -> AsyncIterator[Audio]:
    """Start synthesizing; returns once the first segment is ready (errors raise here, as
    HTTP errors), as an iterator over every segment's audio. ``streamed``: the deadline
    restarts with each segment (see :func:`_chunks`)."""
    gen = _chunks(request, services, text, style, voice, streamed)
    try:
        first = await anext(gen)
    except StopAsyncIteration:
        return _empty()
    return _prepend(first, gen)


async def _empty() -> AsyncIterator[Audio]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _prepend(first: Audio, rest: AsyncIterator[Audio]) -> AsyncIterator[Audio]:
    yield first
    async for chunk in rest:
        yield chunk


async def synthesize(
    request: Request, services: Services, text: str, style: Style, voice: str | None
) -> Audio:
    """The whole text's audio (for answers that need it all: url, base64).

    Stops synthesizing when the client disconnects or the deadline passes (504).
    """
    parts: list[Audio] = []
    try:
        chunks = await open_synthesis(request, services, text, style, voice, streamed=False)
        try:
            async for chunk in chunks:
                parts.append(chunk)
                if await request.is_disconnected():
                    raise ApiError(499, "client_closed", "the client went away")
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
    except DeadlineExceededError:
        timeout = services.config.server.request_timeout_s
        raise ApiError(
            504,
            "deadline_exceeded",
            f"not synthesized within {timeout:g} s; for long texts use format wav (streamed) "
            "or POST /api/jobs",
        ) from None
    if not parts:
        return Audio(np.zeros(0, np.float32), services.synthesizer.sample_rate)
    return Audio.concat(parts)


async def stream_body(
    chunks: AsyncIterator[Audio], encoder: StreamEncoder, services: Services
) -> AsyncIterator[bytes]:
    """Encoded bytes as each segment is synthesized (encoding off the event loop).

    A failure or passed deadline after the first byte ends the body early (logged, counted
    under ``tingshuo_errors``); the client's disconnect cancels this generator, which
    drops the segments not yet started.
    """
    try:
        async for chunk in chunks:
            data = await asyncio.to_thread(encoder.feed, chunk)
            if data:
                yield data
        tail = await asyncio.to_thread(encoder.finish)
        if tail:
            yield tail
    except TimeoutError as exc:
        services.metrics.errors.labels("deadline_exceeded").inc()
        log.warning("streamed synthesis cut short: %s", exc)
    except ApiError as exc:
        services.metrics.errors.labels(exc.code).inc()
        log.warning("streamed synthesis cut short: %s", exc.message)
    finally:
        encoder.close()
        await chunks.aclose()  # type: ignore[attr-defined]


def make_style(emotion: str, intensity: float, speed: float = 1.0) -> Style:
    """A :class:`Style`, or a 400 naming the bad value."""
    try:
        return Style(emotion=parse_emotion(emotion), intensity=intensity, rate=speed)
    except UnknownEmotionError as exc:
        raise ApiError(400, "unknown_emotion", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "bad_style", str(exc)) from None


# What each emotion means to a person choosing one (``hate`` is Sambert's name for disgust).
EMOTION_LABELS: dict[Emotion, tuple[str, str]] = {
    Emotion.NEUTRAL: ("平静", "neutral"),
    Emotion.HAPPY: ("开心", "happy"),
    Emotion.ANGRY: ("生气", "angry"),
    Emotion.SAD: ("难过", "sad"),
    Emotion.FEAR: ("害怕", "afraid"),
    Emotion.HATE: ("厌恶", "disgust"),
    Emotion.SURPRISE: ("惊讶", "surprised"),
}


@router.get("/api/voices", tags=["tts"])
async def voices(request: Request) -> dict:
    """Available voices (default first), emotions and their labels (``{zh, en}``)."""
    services = require_services(request)
    return {
        "voices": [v.__dict__ for v in services.synthesizer.voices()],
        "emotions": [e.value for e in Emotion],
        "emotion_labels": {
            e.value: {"zh": EMOTION_LABELS[e][0], "en": EMOTION_LABELS[e][1]} for e in Emotion
        },
        "sample_rate": services.synthesizer.sample_rate,
    }


@router.post("/api/synthesize", tags=["tts"], response_model=SynthesizeResult)
async def api_synthesize(body: SynthesizeRequest, request: Request) -> Response | SynthesizeResult:
    """Speak ``text``; return a download URL, base64 WAV, or the WAV itself."""
    state = engine_state(request)
    services = require_services(request)
    text = check_text(state, body.text)
    style = make_style(body.emotion, body.intensity, body.speed)
    voices = services.synthesizer.voices()
    voice = body.voice or (voices[0].name if voices else "")
    if body.format == "wav":  # streamed as it is synthesized: the first segment comes first
        chunks = await open_synthesis(request, services, text, style, body.voice or None)
        encoder = StreamEncoder("wav", body.sample_rate or services.synthesizer.sample_rate)
        return streaming(services, stream_body(chunks, encoder, services), "audio/wav")
    audio = await synthesize(request, services, text, style, body.voice or None)
    wav = await asyncio.to_thread(audio.to_wav_bytes, body.sample_rate)
    rate = body.sample_rate or audio.sample_rate
    common: dict[str, Any] = dict(
        sample_rate=rate,
        duration=round(audio.duration, 3),
        voice=voice,
        emotion=style.emotion.value,
    )
    if body.format == "base64":
        return SynthesizeResult(audio_base64=base64.b64encode(wav).decode(), **common)
    item = await asyncio.to_thread(state.downloads.put, wav, "audio/wav")
    base = state.config.server.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return SynthesizeResult(
        url=f"{base}/download/{item.id}", id=item.id, expires_in=state.downloads.ttl_s, **common
    )


@public_router.get("/download/{file_id}", tags=["tts"])
async def download(file_id: str, request: Request) -> FileResponse:
    """A synthesized file by its opaque id (404 once expired)."""
    item = engine_state(request).downloads.get(file_id)
    if item is None:
        raise ApiError(404, "not_found", "no such file (unknown or expired id)")
    return FileResponse(
        item.path, media_type=item.media_type, filename=f"tingshuo-{file_id[:8]}.wav"
    )


# ---- OpenAI-compatible ----

_INSTRUCTION_WORDS: dict[Emotion, tuple[str, ...]] = {
    Emotion.HAPPY: ("happ", "cheer", "joy", "glad", "excite", "开心", "高兴", "愉快"),
    Emotion.ANGRY: ("angr", "anger", "furious", "生气", "愤怒"),
    Emotion.SAD: ("sad", "sorrow", "melanchol", "难过", "悲伤", "伤心"),
    Emotion.FEAR: ("fear", "afraid", "scared", "害怕", "恐惧"),
    Emotion.HATE: ("disgust", "hate", "厌恶", "讨厌"),
    Emotion.SURPRISE: ("surpris", "astonish", "惊讶", "吃惊"),
    Emotion.NEUTRAL: ("neutral", "calm", "平静", "中性"),
}


def emotion_from_instructions(text: str) -> Emotion:
    """The emotion an OpenAI ``instructions`` string asks for (first match), else neutral."""
    lowered = text.lower()
    best: tuple[int, Emotion] | None = None
    for emotion, words in _INSTRUCTION_WORDS.items():
        for w in words:
            m = re.search(re.escape(w), lowered)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), emotion)
    return best[1] if best else Emotion.NEUTRAL


class SpeechRequest(BaseModel):
    """OpenAI ``POST /v1/audio/speech`` body."""

    model: str = "tingshuo"
    input: str
    voice: str = ""
    response_format: str = Field("mp3", description="mp3 (default) opus aac flac wav pcm")
    speed: float = Field(1.0, ge=0.25, le=4.0)
    instructions: str = ""
    stream_format: Literal["audio", "sse"] = Field(
        "audio", description="audio: the file, chunked as it is synthesized; sse: events"
    )


@router.post("/v1/audio/speech", tags=["openai"])
async def openai_speech(body: SpeechRequest, request: Request) -> Response:
    """OpenAI-compatible speech in ``mp3`` (the default), ``opus`` (Ogg), ``aac`` (ADTS),
    ``flac``, ``wav`` or raw ``pcm`` (24 kHz s16le, as OpenAI's)."""
    state = engine_state(request)
    services = require_services(request)
    if body.response_format not in FORMATS:
        raise ApiError(
            400,
            "unsupported_format",
            f"response_format {body.response_format!r}: use one of {', '.join(FORMATS)}",
        )
    text = check_text(state, body.input)
    names = {v.name for v in services.synthesizer.voices()}
    # a voice of ours, or an OpenAI name (alloy, echo, …) mapped to a native voice; else default
    voice = voice_for_name(body.voice, names)
    style = make_style(emotion_from_instructions(body.instructions), 1.0, body.speed)
    chunks = await open_synthesis(request, services, text, style, voice)
    encoder = StreamEncoder(body.response_format, services.synthesizer.sample_rate)
    name = f"speech.{FORMATS[body.response_format].extension}"
    if body.stream_format == "sse":
        return streaming(services, sse_body(chunks, encoder, services), "text/event-stream")
    return streaming(  # chunked: clients reading the whole body get the same file
        services,
        stream_body(chunks, encoder, services),
        encoder.media_type,
        {"Content-Disposition": f'inline; filename="{name}"'},
    )


def streaming(
    services: Services,
    body: AsyncIterator[bytes],
    media_type: str,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """A chunked response whose client must take each chunk within the request timeout."""
    return BoundedStreamingResponse(
        body,
        media_type=media_type,
        headers=headers,
        send_timeout_s=services.config.server.request_timeout_s,
        metrics=services.metrics,
    )


async def sse_body(
    chunks: AsyncIterator[Audio], encoder: StreamEncoder, services: Services
) -> AsyncIterator[bytes]:
    """OpenAI's ``stream_format: sse``: ``speech.audio.delta`` events (base64), then
    ``speech.audio.done``."""
    async for data in stream_body(chunks, encoder, services):
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
        yield f"data: {json.dumps(event)}\n\n".encode()
    yield b'data: {"type": "speech.audio.done"}\n\n'
