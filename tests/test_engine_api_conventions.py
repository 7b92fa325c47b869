"""The conventions API clients rely on, over a real server (model doubles, so it is fast):
the ``openai`` SDK's speech formats decode, srt/vtt transcriptions parse, and every error —
ours, FastAPI's validation, unknown routes, wrong methods — has the one documented shape
``{"error": {"code", "message"}}``."""

from __future__ import annotations

import io
import re

import httpx
import numpy as np
import pytest

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
)
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.audio import Audio
from tingshuo.engine.services import Services

TEXT = "您好，欢迎致电。"  # the tone double speaks 0.12 s per character


@pytest.fixture(scope="module")
def server():  # noqa: ANN201
    config = engine_test_config(warmup=False)
    bridge = KeywordEmotionBridge()
    services = Services(
        config,
        ScriptedRecognizer(["今天天气很好。"]),
        ToneSynthesizer(),
        bridge,
        EchoKnowledgePolicy(bridge),
    )
    with running_server(config, services) as base:
        yield base


def _client(base: str):  # noqa: ANN202
    from openai import OpenAI

    return OpenAI(base_url=base + "/v1", api_key="unused-on-loopback", max_retries=0)


def test_sdk_default_speech_is_mp3_that_decodes(server: str) -> None:
    import soundfile as sf

    response = _client(server).audio.speech.create(model="tingshuo", voice="alloy", input=TEXT)
    assert response.response.headers["content-type"] == "audio/mpeg"
    samples, rate = sf.read(io.BytesIO(response.read()), dtype="float32")
    assert rate == 24000
    assert len(samples) / rate == pytest.approx(0.12 * len(TEXT), abs=0.1)


def test_sdk_opus_is_ogg_opus_that_decodes(server: str) -> None:
    import soundfile as sf

    response = _client(server).audio.speech.create(
        model="tingshuo", voice="alloy", input=TEXT, response_format="opus"
    )
    data = response.read()
    assert response.response.headers["content-type"] == "audio/ogg"
    assert data[:4] == b"OggS" and b"OpusHead" in data[:100]
    info = sf.info(io.BytesIO(data))
    assert info.subtype == "OPUS"
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert len(samples) / rate == pytest.approx(0.12 * len(TEXT), abs=0.1)


@pytest.mark.parametrize(
    ("fmt", "media_type", "magic"),
    [("aac", "audio/aac", b"\xff"), ("flac", "audio/flac", b"fLaC"), ("wav", "audio/wav", b"RIFF")],
)
def test_other_formats_have_their_media_types(
    server: str, fmt: str, media_type: str, magic: bytes
) -> None:
    r = httpx.post(
        server + "/v1/audio/speech", json={"input": TEXT, "voice": "alloy", "response_format": fmt}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media_type and r.content.startswith(magic)


def test_nothing_speakable_is_a_400(server: str) -> None:
    for path, body in (
        ("/v1/audio/speech", {"input": "。。。"}),
        ("/api/synthesize", {"text": "……！？"}),
        ("/api/synthesize", {"text": "<speak><break time='300ms'/>。</speak>"}),
        ("/api/jobs", {"text": "，，，"}),
    ):
        r = httpx.post(server + path, json=body)
        assert r.status_code == 400, (path, r.text)
        assert r.json() == {
            "error": {
                "code": "nothing_to_speak",
                "message": "text has no letters or digits to speak (only punctuation)",
            }
        }


def _upload(base: str, fmt: str) -> httpx.Response:
    audio = Audio(np.full(16000 * 2, 0.01, np.float32), 16000)
    files = {"file": ("a.wav", audio.to_wav_bytes(), "audio/wav")}
    return httpx.post(base + "/v1/audio/transcriptions", files=files, data={"response_format": fmt})


def test_srt_and_vtt_transcriptions_parse(server: str) -> None:
    srt = _upload(server, "srt")
    assert srt.status_code == 200 and srt.headers["content-type"].startswith("application/x-subrip")
    blocks = srt.text.strip().split("\n\n")
    for i, block in enumerate(blocks, 1):
        number, span, text = block.split("\n")
        assert int(number) == i and text
        m = re.fullmatch(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})", span)
        assert m, span
    assert "今天天气很好" in srt.text and "00:00:02,000" in srt.text  # one cue: 0 s → 2 s

    vtt = _upload(server, "vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    header, *cues = vtt.text.strip().split("\n\n")
    assert header == "WEBVTT" and cues
    for cue in cues:
        span, text = cue.split("\n")
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}", span), span
        assert text == "今天天气很好。"


def _is_error_shape(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body  # never FastAPI's {"detail": ...}
    assert body["error"]["code"] == code and isinstance(body["error"]["message"], str), body
    assert body["error"]["message"]


def test_every_error_has_the_documented_shape(server: str) -> None:
    cases = [  # (method, path, kwargs, status, code)
        ("POST", "/api/synthesize", {"json": {"text": "好", "intensity": 5}}, 422, "invalid_request"),
        ("POST", "/api/synthesize", {"json": {}}, 422, "invalid_request"),
        ("POST", "/api/synthesize", {"content": b"{not json"}, 422, "invalid_request"),
        ("POST", "/v1/audio/speech", {"json": {"voice": "alloy"}}, 422, "invalid_request"),
        ("POST", "/v1/audio/speech", {"json": {"input": "好", "speed": 9}}, 422, "invalid_request"),
        ("POST", "/v1/audio/speech", {"json": {"input": "好", "response_format": "ogg"}}, 400,
         "unsupported_format"),
        ("POST", "/v1/audio/transcriptions", {"data": {"model": "whisper-1"}}, 422,
         "invalid_request"),
        ("POST", "/api/synthesize", {"json": {"text": "好", "emotion": "sarcastic"}}, 400,
         "unknown_emotion"),
        ("GET", "/api/jobs/job_nope", {}, 404, "not_found"),
        ("GET", "/no/such/route", {}, 404, "not_found"),
        ("GET", "/v1/audio/speech", {}, 405, "method_not_allowed"),
        ("GET", "/ui/../../etc/passwd", {}, 404, "not_found"),
    ]  # fmt: skip
    for method, path, kwargs, status, code in cases:
        _is_error_shape(httpx.request(method, server + path, **kwargs), status, code)


def test_openapi_documents_the_error_shape(server: str) -> None:
    schema = httpx.get(server + "/openapi.json").json()
    op = schema["paths"]["/api/synthesize"]["post"]["responses"]["422"]
    ref = op["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    body = schema["components"]["schemas"][ref]
    assert body["required"] == ["error"] and "detail" not in body["properties"]


def test_validation_errors_name_the_field(server: str) -> None:
    body = httpx.post(server + "/api/synthesize", json={"text": "好", "intensity": 5}).json()
    assert body["error"]["param"] == "intensity"
    assert body["error"]["fields"][0]["param"] == "intensity"
    assert body["error"]["message"].startswith("intensity: ")


def test_sdk_raises_with_our_message(server: str) -> None:
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        _client(server).audio.speech.create(model="tingshuo", voice="alloy", input="。。。")
    assert caught.value.body["code"] == "nothing_to_speak"  # type: ignore[index]
