"""``POST /api/emotion``: audio and/or text → emotion distribution, confidence, reply style.

Accepts ``multipart/form-data`` (``file``: a recording, ``text``: its words; either or both)
or JSON ``{"text": "...", "audio_base64": "..."}``. Answers with
:func:`dialog.service.analyze`'s dict. The bridge runs on the engine's worker pool.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tingshuo.core.audio import Audio, AudioFormatError, read_audio
from tingshuo.engine.app import ApiError, check_api_key, engine_state, require_services
from tingshuo.engine.workers import Priority

router = APIRouter(dependencies=[Depends(check_api_key)])
_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "text": {"type": "string"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}, "audio_base64": {"type": "string"}},
                }
            },
        }
    }
}


async def _inputs(request: Request, limit: int) -> tuple[list[bytes], str | None]:
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            body: Any = await request.json()
        except ValueError:
            raise ApiError(400, "bad_json", "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "bad_json", "expected a JSON object")
        text, b64 = body.get("text"), body.get("audio_base64")
        items = b64 if isinstance(b64, list) else [b64] if b64 else []
        data = []
        for item in items:
            try:
                data.append(base64.b64decode(str(item), validate=True))
            except (binascii.Error, ValueError):
                raise ApiError(400, "bad_audio", "audio_base64 is not valid base64") from None
        return data, text if isinstance(text, str) else None
    if kind.startswith("multipart/form-data"):
        form = await request.form()
        uploads = [u for u in form.getlist("file") if hasattr(u, "read")]
        text = form.get("text")
        return [await u.read(limit + 1) for u in uploads], text if isinstance(text, str) else None  # type: ignore[union-attr]
    raise ApiError(415, "unsupported_media_type", "send multipart/form-data or application/json")


@router.post("/api/emotion", tags=["dialog"], openapi_extra=_BODY)
async def emotion(request: Request) -> JSONResponse:
    """The user's emotion from a recording and/or its text, and the reply style it calls for.

    Several recordings (``file`` repeated, or a list in ``audio_base64``) are treated as one
    speaker's utterances and normalised against each other: ``{"results": [...]}``.
    """
    from tingshuo.dialog.bridge import EmotionInputError, SilentAudioError, TooShortAudioError
    from tingshuo.dialog.service import analyze, analyze_same_speaker

    state = engine_state(request)
    services = require_services(request)
    limit = state.config.security.max_upload_bytes
    blobs, text = await _inputs(request, limit)
    if any(len(b) > limit for b in blobs):
        raise ApiError(413, "upload_too_large", f"upload larger than {limit} bytes")
    if text is not None and len(text) > state.config.security.max_text_chars:
        raise ApiError(
            413,
            "text_too_long",
            f"text longer than {state.config.security.max_text_chars} characters",
        )
    audios: list[Audio] = []
    for blob in blobs:
        if not blob:
            continue
        try:
            audios.append(await asyncio.to_thread(read_audio, blob))
        except AudioFormatError as exc:
            raise ApiError(400, "bad_audio", str(exc)) from None
    if not audios and not (text or "").strip():
        raise ApiError(400, "empty_input", "give a recording (file / audio_base64), text, or both")
    bridge, rec = services.bridge, services.recognizer
    services.admit(Priority.INTERACTIVE)  # 503 overloaded when saturated
    deadline = services.request_deadline()
    try:
        if len(audios) > 1:
            results = await services.run(
                "emotion", analyze_same_speaker, bridge, audios, text, rec, deadline=deadline
            )
            return JSONResponse({"results": results})
        audio = audios[0] if audios else None
        result = await services.run("emotion", analyze, bridge, audio, text, rec, deadline=deadline)
    except SilentAudioError as exc:
        raise ApiError(400, "silent_audio", str(exc)) from None
    except TooShortAudioError as exc:
        raise ApiError(400, "too_short_audio", str(exc)) from None
    except EmotionInputError as exc:
        raise ApiError(400, "empty_input", str(exc)) from None
    return JSONResponse(result)
