"""The official ``openai`` client against /v1/audio/speech and /v1/audio/transcriptions, and a
long-text job with a webhook, on the real models."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from tests.engine_real import cer, load_real_services, references, rms_dbfs
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.audio import Audio, read_audio

pytestmark = pytest.mark.slow
CLIP = "firered_aishell1_BAC009S0764W0121.wav"


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    config = engine_test_config(webhook_backoff_s=0.1)
    services = load_real_services(config)
    with running_server(config, services) as base:
        yield base, services


def test_openai_client_speech(engine) -> None:  # noqa: ANN001
    from openai import OpenAI

    base, services = engine
    client = OpenAI(base_url=base + "/v1", api_key="unused-on-loopback")
    text = "今天天气很好，我们去公园散步吧。"
    wav = client.audio.speech.create(
        model="tingshuo",
        voice="alloy",
        input=text,
        response_format="wav",
        instructions="Speak happily.",
    )
    audio = read_audio(wav.read())
    assert audio.duration > 1.0 and rms_dbfs(audio.samples) > -35
    heard = services.recognizer.transcribe(audio.resample(16000)).text
    assert cer(text, heard) <= 0.3, heard
    pcm = client.audio.speech.create(
        model="tingshuo", voice="alloy", input="你好", response_format="pcm"
    ).read()
    assert len(pcm) % 2 == 0 and len(pcm) > 24000  # > 0.5 s at 24 kHz s16le
    # The SDK's default format (mp3) and opus decode with libsndfile, and are still speech.
    import io

    import soundfile as sf

    for fmt in ("mp3", "opus"):
        kwargs = {} if fmt == "mp3" else {"response_format": fmt}
        data = client.audio.speech.create(model="tingshuo", voice="alloy", input=text, **kwargs)
        samples, rate = sf.read(io.BytesIO(data.read()), dtype="float32")
        decoded = Audio(samples, rate)
        assert decoded.duration > 1.0 and rms_dbfs(decoded.samples) > -35, fmt
        heard = services.recognizer.transcribe(decoded.resample(16000)).text
        assert cer(text, heard) <= 0.3, (fmt, heard)


def test_openai_client_transcriptions(engine, asr_dev) -> None:  # noqa: ANN001
    from openai import OpenAI

    base, _ = engine
    ref = references(asr_dev)[CLIP]
    client = OpenAI(base_url=base + "/v1", api_key="unused-on-loopback")
    with open(asr_dev / "wav" / CLIP, "rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert cer(ref, result.text) <= 0.25, result.text
    with open(asr_dev / "wav" / CLIP, "rb") as fh:
        text = client.audio.transcriptions.create(
            model="whisper-1", file=fh, response_format="text"
        )
    assert cer(ref, str(text)) <= 0.25
    with open(asr_dev / "wav" / CLIP, "rb") as fh:
        verbose = client.audio.transcriptions.create(
            model="whisper-1", file=fh, response_format="verbose_json"
        )
    assert verbose.duration == pytest.approx(4.2, abs=0.05)
    assert verbose.segments and verbose.segments[-1].end <= 4.3
    for fmt in ("srt", "vtt"):
        with open(asr_dev / "wav" / CLIP, "rb") as fh:
            subs = str(
                client.audio.transcriptions.create(model="whisper-1", file=fh, response_format=fmt)
            )
        sep = "." if fmt == "vtt" else ","
        spans = re.findall(rf"(\d\d):(\d\d):(\d\d){re.escape(sep)}(\d{{3}}) --> ", subs)
        assert len(spans) == len(verbose.segments), subs
        assert subs.startswith("WEBVTT\n\n" if fmt == "vtt" else "1\n00:00:")
        cues = "".join(line for line in subs.splitlines() if line and "-->" not in line)
        assert cer(ref, cues.replace("WEBVTT", "")) <= 0.3, subs


class _Hook(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(500 if len(type(self).calls) == 1 else 204)  # first delivery fails
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_long_text_job_with_webhook(engine) -> None:  # noqa: ANN001
    base, services = engine
    receiver = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    text = "欢迎致电客服中心。您的订单已经发货，预计明天送达。如有问题请随时联系我们。"
    job = httpx.post(
        base + "/api/jobs",
        json={"text": text, "webhook_url": f"http://127.0.0.1:{receiver.server_port}/"},
    ).json()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (len(_Hook.calls) >= 2):
        time.sleep(0.2)
    receiver.shutdown()
    final = httpx.get(f"{base}/api/jobs/{job['id']}").json()
    while time.monotonic() < deadline and final.get("webhook", {}).get("status") == "pending":
        time.sleep(0.1)
        final = httpx.get(f"{base}/api/jobs/{job['id']}").json()
    assert final["status"] == "done" and final["webhook"] == {"status": "delivered", "attempts": 2}
    assert _Hook.calls[-1]["result_url"] == final["result_url"]
    audio: Audio = read_audio(httpx.get(final["result_url"]).content)
    heard = services.recognizer.transcribe(audio.resample(16000)).text
    assert cer(text, heard) <= 0.3, heard
