"""``tingshuo converse`` against a live engine (model doubles) and ``talk``'s device message."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
    silence,
    speech_like,
)
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.audio import Audio, read_audio, write_wav
from tingshuo.engine.services import Services
from tingshuo.engine.talk_cli import converse, talk


def test_converse_streams_files_prints_events_and_saves_replies(tmp_path) -> None:  # noqa: ANN001
    config = engine_test_config(warmup=False)
    bridge = KeywordEmotionBridge()
    services = Services(
        config,
        ScriptedRecognizer(["你好", "换一首歌"]),
        ToneSynthesizer(),
        bridge,
        EchoKnowledgePolicy(bridge),
    )
    files = []
    for i in range(2):
        path = tmp_path / f"turn{i}.wav"
        write_wav(path, Audio(np.concatenate([silence(0.2), speech_like(0.8)]), 16000))
        files.append(str(path))
    out = tmp_path / "replies"
    with running_server(config, services) as base:
        url = base.replace("http", "ws") + "/v1/dialog"
        result = CliRunner().invoke(
            converse, [*files, "--url", url, "--fast", "--out", str(out), "--pause", "0.6"]
        )
    assert result.exit_code == 0, result.output
    assert '"type": "transcript.final"' in result.output and "换一首歌" in result.output
    assert "reply.interrupted" not in result.output  # each reply is "played" before the next file
    saved = sorted(out.glob("reply-*.wav"))
    assert len(saved) == 2
    assert read_audio(saved[1]).duration == np.float32(0.12 * len("好的，马上为您换一首歌。"))


def test_converse_reports_an_unreachable_engine(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "a.wav"
    write_wav(path, Audio(speech_like(0.2), 16000))
    result = CliRunner().invoke(converse, [str(path), "--url", "ws://127.0.0.1:9/v1/dialog"])
    assert result.exit_code != 0 and "cannot reach the engine" in result.output


def test_talk_without_audio_device_says_what_is_missing() -> None:
    result = CliRunner().invoke(talk, [])
    # on this machine there is no sound card (and maybe no PortAudio): a clear message, no traceback
    assert result.exit_code != 0
    assert "audio I/O is unavailable" in result.output or "no usable microphone" in result.output
    assert "Traceback" not in result.output
