"""POST /api/emotion on a running engine with the packaged bridge: text, audio, both; errors."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.engine_doubles import ScriptedRecognizer, ToneSynthesizer
from tests.engine_server import engine_test_config, running_server
from tingshuo.dialog.factory import build_bridge, build_policy
from tingshuo.engine.services import Services


@pytest.fixture(scope="module")
def server():  # noqa: ANN201
    config = engine_test_config(warmup=False)
    services = Services(
        config,
        ScriptedRecognizer(["你好"]),
        ToneSynthesizer(),
        build_bridge(config.dialog),
        build_policy(config.dialog),
    )
    with running_server(config, services) as base:
        yield base


def test_text_json(server: str) -> None:
    r = httpx.post(
        server + "/api/emotion", json={"text": "你们这服务太差了，我要投诉！气死我了"}, timeout=30
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["emotion"] == "angry" and body["source"] == "text"
    assert abs(sum(body["distribution"].values()) - 1) < 1e-3
    assert body["reply_style"]["emotion"] != "angry"


def test_audio_and_text_multipart_and_base64(server: str, asr_dev: Path) -> None:
    wav = (asr_dev / "wav" / "funasr_llamacpp_sample.wav").read_bytes()
    r = httpx.post(
        server + "/api/emotion",
        files={"file": ("a.wav", wav, "audio/wav")},
        data={"text": "我想问我在滨海新区有房"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "fused"
    r = httpx.post(
        server + "/api/emotion", json={"audio_base64": base64.b64encode(wav).decode()}, timeout=30
    )
    # the recognizer runs once on the recording: its transcript is the text, fused with speech
    assert r.status_code == 200 and r.json()["source"] == "fused"
    assert r.json()["transcript"] == "你好" and "uncertain" in r.json()


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"text": "  "}}, 400, "empty_input"),
        ({"json": {"audio_base64": "!!!"}}, 400, "bad_audio"),
        ({"files": {"file": ("x.wav", b"RIFFjunk", "audio/wav")}}, 400, "bad_audio"),
        (
            {"content": b"hello", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({"json": {"text": "啊" * 6000}}, 413, "text_too_long"),
    ],
)
def test_errors_are_typed(server: str, kwargs: dict, status: int, code: str) -> None:
    r = httpx.post(server + "/api/emotion", timeout=30, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_several_files_are_one_speaker(server: str, asr_dev: Path) -> None:
    wavs = sorted((asr_dev / "wav").glob("*.wav"))[:3]
    files = [("file", (w.name, w.read_bytes(), "audio/wav")) for w in wavs]
    r = httpx.post(server + "/api/emotion", files=files, timeout=60)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 3
    assert all(abs(sum(x["distribution"].values()) - 1) < 1e-3 for x in results)


def test_silent_and_too_short_audio_are_typed(server: str) -> None:
    import numpy as np

    from tingshuo.core.audio import Audio

    silent = Audio(np.zeros(16000, np.float32), 16000).to_wav_bytes()
    short = Audio(np.full(800, 0.2, np.float32), 16000).to_wav_bytes()
    for blob, code in ((silent, "silent_audio"), (short, "too_short_audio")):
        r = httpx.post(
            server + "/api/emotion", files={"file": ("a.wav", blob, "audio/wav")}, timeout=30
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
