"""/v1/asr over a real socket in all three FunASR modes, with the recognizer double.

Checks the protocol plumbing (messages, modes, is_final/is_end, several wavs on one
connection) quickly and without models; tests/e2e/test_e2e_funasr.py runs it on Whisper.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
    silence,
    speech_like,
)
from tests.engine_funasr_client import assemble, funasr_client
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.audio import Audio, write_wav
from tingshuo.engine.services import Services


@pytest.fixture(scope="module")
def recognizer() -> ScriptedRecognizer:
    return ScriptedRecognizer(["你好世界"] * 50)


@pytest.fixture(scope="module")
def base(recognizer: ScriptedRecognizer):  # noqa: ANN201
    config = engine_test_config(warmup=False)
    bridge = KeywordEmotionBridge()
    services = Services(
        config,
        recognizer,
        ToneSynthesizer(),
        bridge,
        EchoKnowledgePolicy(bridge),
    )
    with running_server(config, services) as url:
        yield url


@pytest.mark.parametrize("mode", ["offline", "online", "2pass"])
def test_modes_over_a_socket(base: str, recognizer, tmp_path, mode: str) -> None:  # noqa: ANN001
    paths = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.wav"
        write_wav(
            path, Audio(np.concatenate([silence(0.2), speech_like(1.5), silence(0.5)]), 16000)
        )
        paths.append(path)
    messages = asyncio.run(funasr_client(base.replace("http", "ws") + "/v1/asr", paths, mode))
    for path in paths:
        own = [m for m in messages if m["wav_name"] == path.stem]
        assert own[-1]["is_final"] is True and own[-1]["is_end"] is True
        assert assemble(messages, path.stem) == "你好世界"
    if mode != "offline":  # a transcription stream, not a dialogue turn
        assert recognizer.profiles[-2:] == ["transcription"] * 2
    modes = {m["mode"] for m in messages}
    assert modes == {"offline": {"offline"}, "online": {"online"}, "2pass": {"2pass-offline"}}[
        mode
    ] or (mode == "2pass" and modes == {"2pass-online", "2pass-offline"})
