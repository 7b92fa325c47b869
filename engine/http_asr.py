"""OpenAI-compatible ``POST /v1/audio/transcriptions`` (multipart upload)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tingshuo.asr.base import ASR_SAMPLE_RATE
from tingshuo.core.audio import AudioFormatError, read_audio
from tingshuo.engine.app import ApiError, check_api_key, engine_state, require_services
from tingshuo.engine.workers import Priority

router = APIRouter(dependencies=[Depends(check_api_key)])
FORMATS = ("json", "text", "verbose_json", "srt", "vtt")


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def subtitles(cues: list[tuple[float, float, str]], *, vtt: bool) -> str:
    """SubRip (``vtt=False``) or WebVTT text for ``(start_s, end_s, text)`` cues."""
    sep = "." if vtt else ","
    blocks = ["WEBVTT"] if vtt else []
    for i, (start, end, text) in enumerate(cues, 1):
        span = f"{_timestamp(start, sep)} --> {_timestamp(max(end, start), sep)}"
        clean = " ".join(text.split())  # a blank line inside a cue would end it
        blocks.append(f"{span}\n{clean}" if vtt else f"{i}\n{span}\n{clean}")
    return "\n\n".join(blocks) + "\n"


@router.post("/v1/audio/transcriptions", tags=["openai"])
async def transcriptions(
    request: Request,
    file: UploadFile = File(...),  # noqa: B008
    model: str = Form("whisper-1"),
    language: str = Form("zh"),
    prompt: str = Form(""),
    response_format: str = Form("json"),
    temperature: float = Form(0.0),
) -> Response:
    """Transcribe an uploaded recording; ``json``, ``text``, ``verbose_json``, ``srt`` or ``vtt``."""
    state = engine_state(request)
    services = require_services(request)
    if response_format not in FORMATS:
        raise ApiError(
            400, "unsupported_format", f"response_format {response_format!r}: use one of {FORMATS}"
        )
    limit = state.config.security.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "upload_too_large", f"upload larger than {limit} bytes")
    try:
        audio = await asyncio.to_thread(read_audio, data, ASR_SAMPLE_RATE)
    except AudioFormatError as exc:
        raise ApiError(400, "bad_audio", str(exc)) from None
    services.start()
    assert services.pool is not None
    with services.pool.request(Priority.INTERACTIVE):  # 503 overloaded when saturated
        transcript = await services.transcribe(audio, itn=state.config.asr.itn)
    if response_format == "text":
        return PlainTextResponse(transcript.text + "\n")
    if response_format == "json":
        return JSONResponse({"text": transcript.text})
    cues = [(s.start, s.end, s.text) for s in transcript.segments if s.text.strip()]
    if not cues and transcript.text.strip():  # a backend without segments: one cue for all
        cues = [(0.0, audio.duration, transcript.text)]
    if response_format == "srt":
        return PlainTextResponse(subtitles(cues, vtt=False), media_type="application/x-subrip")
    if response_format == "vtt":
        return PlainTextResponse(subtitles(cues, vtt=True), media_type="text/vtt")
    segments = [
        {
            "id": i,
            "seek": 0,
            "start": round(s.start, 3),
            "end": round(s.end, 3),
            "text": s.text,
            "tokens": [],
            "temperature": temperature,
            "avg_logprob": 0.0,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.0,
        }
        for i, s in enumerate(transcript.segments)
    ]
    return JSONResponse(
        {
            "task": "transcribe",
            "language": transcript.language,
            "duration": round(audio.duration, 3),
            "text": transcript.text,
            "segments": segments,
        }
    )
