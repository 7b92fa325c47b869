"""/v1/asr with a client that talks the way FunASR's sample client does, in all three modes.

Like ``funasr_wss_client.py``: subprotocol ``binary``, a first JSON message, PCM chunks of
``60 * chunk_size[1] / chunk_interval`` ms, ``{"is_speaking": false, "is_end": true}``, and
text assembled exactly as that client prints it. Real Whisper; real clips.
"""

from __future__ import annotations

import asyncio
import json
import wave

import pytest
import websockets

from tests.engine_real import cer, load_real_services, references
from tests.engine_server import engine_test_config, running_server

pytestmark = pytest.mark.slow
CLIPS = ["firered_aishell1_BAC009S0764W0121.wav", "wenet_aishell1_BAC009S0724W0121.wav"]


@pytest.fixture(scope="module")
def base():  # noqa: ANN201
    config = engine_test_config()
    services = load_real_services(config)
    with running_server(config, services) as url:
        yield url


async def funasr_client(
    uri: str, wav_paths: list, mode: str, chunk_interval: int = 10
) -> list[dict]:  # noqa: ANN001
    """Send each wav as FunASR's sample client does; return every server message."""
    chunk_size = [5, 10, 5]
    messages: list[dict] = []
    async with websockets.connect(uri, subprotocols=["binary"], ping_interval=None) as ws:
        assert ws.subprotocol == "binary"
        for path in wav_paths:
            with wave.open(str(path), "rb") as wav:
                sample_rate = wav.getframerate()
                audio_bytes = wav.readframes(wav.getnframes())
            stride = int(60 * chunk_size[1] / chunk_interval / 1000 * sample_rate * 2)
            chunk_num = (len(audio_bytes) - 1) // stride + 1
            await ws.send(
                json.dumps(
                    {
                        "mode": mode,
                        "chunk_size": chunk_size,
                        "chunk_interval": chunk_interval,
                        "encoder_chunk_look_back": 4,
                        "decoder_chunk_look_back": 0,
                        "audio_fs": sample_rate,
                        "wav_name": path.stem,
                        "wav_format": "pcm",
                        "is_speaking": True,
                        "hotwords": "",
                        "itn": True,
                    },
                    ensure_ascii=False,
                )
            )
            for i in range(chunk_num):
                await ws.send(audio_bytes[i * stride : (i + 1) * stride])
                await asyncio.sleep(0.001)
            await ws.send(json.dumps({"is_speaking": False, "is_end": True}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 120))
                messages.append(msg)
                if msg.get("is_end"):
                    break
    return messages


def assemble(messages: list[dict], wav_name: str) -> str:
    """The text FunASR's sample client prints for one wav (its offline / online / 2pass rules)."""
    text_print, online, offline = "", "", ""
    for m in messages:
        if m.get("wav_name") != wav_name:
            continue
        if m["mode"] in ("online", "offline"):
            text_print += m["text"]
        elif m["mode"] == "2pass-online":
            online += m["text"]
            text_print = offline + online
        else:
            online = ""
            offline += m["text"]
            text_print = offline
    return text_print


@pytest.mark.parametrize("mode", ["offline", "online", "2pass"])
def test_funasr_sample_client_modes(base: str, asr_dev, mode: str) -> None:  # noqa: ANN001
    refs = references(asr_dev)
    paths = [asr_dev / "wav" / c for c in CLIPS]
    messages = asyncio.run(funasr_client(base.replace("http", "ws") + "/", paths, mode))
    expected_modes = {
        "offline": {"offline"},
        "online": {"online"},
        "2pass": {"2pass-online", "2pass-offline"},
    }[mode]
    assert {m["mode"] for m in messages} <= expected_modes
    if mode == "2pass":
        assert "2pass-offline" in {m["mode"] for m in messages}
    for path in paths:
        own = [m for m in messages if m["wav_name"] == path.stem]
        assert own[-1]["is_final"] is True and own[-1]["is_end"] is True
        assert not any(m["is_final"] for m in own[:-1])
        text = assemble(messages, path.stem)
        assert cer(refs[path.name], text) <= 0.3, (mode, path.name, text)
    if mode == "offline":
        assert all(json.loads(m["timestamp"]) for m in messages if m["text"])


def test_funasr_errors_do_not_crash(base: str) -> None:
    async def main() -> list:
        async with websockets.connect(base.replace("http", "ws") + "/v1/asr") as ws:
            await ws.send(json.dumps({"mode": "3pass", "is_speaking": True}))
            bad_mode = json.loads(await ws.recv())
            await ws.send(json.dumps({"mode": "offline", "is_speaking": True, "wav_name": "x"}))
            await ws.send(json.dumps({"is_speaking": False}))
            ack = json.loads(await ws.recv())
            return [bad_mode, ack]

    bad_mode, ack = asyncio.run(main())
    assert "mode" in bad_mode["error"]
    assert ack == {"mode": "offline", "wav_name": "x", "text": "", "is_final": True, "is_end": True}
