"""/v1/asr with a client that talks the way FunASR's sample client does, in all three modes.

Like ``funasr_wss_client.py``: subprotocol ``binary``, a first JSON message, PCM chunks of
``60 * chunk_size[1] / chunk_interval`` ms, ``{"is_speaking": false, "is_end": true}``, and
text assembled exactly as that client prints it. Real Whisper; real clips.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.engine_funasr_client import assemble, funasr_client
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
