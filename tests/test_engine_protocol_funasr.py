"""The FunASR runtime protocol state machine, driven directly (no sockets)."""

from __future__ import annotations

import json

import numpy as np

from tingshuo.core.audio import float_to_pcm16
from tingshuo.engine.protocol.funasr import (
    AudioChunk,
    EndOfInput,
    FunASRError,
    FunASRProtocol,
    StreamConfig,
    common_prefix,
    parse_hotwords,
    remainder,
)

FIRST = {
    "mode": "2pass",
    "chunk_size": [5, 10, 5],
    "chunk_interval": 10,
    "encoder_chunk_look_back": 4,
    "decoder_chunk_look_back": 0,
    "audio_fs": 16000,
    "wav_name": "demo",
    "wav_format": "pcm",
    "is_speaking": True,
    "hotwords": '{"阿里巴巴": 20, "通义实验室": 30}',
    "itn": True,
}


def configure(proto: FunASRProtocol, **over: object) -> StreamConfig:
    [cfg] = proto.receive_text(json.dumps({**FIRST, **over}, ensure_ascii=False))
    assert isinstance(cfg, StreamConfig), cfg
    return cfg


def test_first_message_fields_as_the_sample_client_sends_them() -> None:
    cfg = configure(FunASRProtocol())
    assert cfg == StreamConfig(
        "2pass", "demo", "pcm", 16000, (5, 10, 5), 10, "阿里巴巴 通义实验室", True
    )
    assert configure(FunASRProtocol(), chunk_size="8,8,4").chunk_size == (8, 8, 4)


def test_hotword_formats() -> None:
    assert parse_hotwords("阿里巴巴,达摩院") == "阿里巴巴 达摩院"
    assert parse_hotwords("阿里巴巴 达摩院") == "阿里巴巴 达摩院"
    assert parse_hotwords({"x": 1}) == "x"
    assert parse_hotwords(None) == ""


def test_bad_configuration_and_audio_are_errors() -> None:
    proto = FunASRProtocol()
    [err] = proto.receive_bytes(b"\x00\x00")
    assert isinstance(err, FunASRError) and err.fatal
    for bad in (
        {"mode": "3pass"},
        {"audio_fs": 1234},
        {"chunk_size": [1, 2]},
        {"wav_format": "mp3"},
    ):
        [err] = FunASRProtocol().receive_text(json.dumps({**FIRST, **bad}))
        assert isinstance(err, FunASRError) and not err.fatal, bad
    [err] = proto.receive_text("{oops")
    assert isinstance(err, FunASRError)
    [err] = proto.receive_text('{"is_speaking": false}')
    assert isinstance(err, FunASRError)


def test_audio_then_end_then_a_second_stream_on_one_connection() -> None:
    proto = FunASRProtocol()
    configure(proto, audio_fs=8000, mode="offline")
    [chunk] = proto.receive_bytes(float_to_pcm16(np.zeros(800, dtype=np.float32)))
    assert isinstance(chunk, AudioChunk) and chunk.sample_rate == 8000 and chunk.samples.size == 800
    [odd] = proto.receive_bytes(b"\x00")
    assert isinstance(odd, FunASRError) and not odd.fatal
    assert proto.receive_text('{"is_speaking": false, "is_end": true}') == [EndOfInput()]
    proto.offline_result("甚至出现交易几乎停滞的情况", [(0.1, 4.0)])
    [msg] = map(json.loads, proto.outgoing())
    assert msg == {
        "mode": "offline",
        "wav_name": "demo",
        "text": "甚至出现交易几乎停滞的情况",
        "is_final": True,
        "timestamp": "[[100, 4000]]",
        "is_end": True,
    }
    cfg = configure(proto, wav_name="second", mode="online")
    assert cfg.wav_name == "second" and proto.speaking


def test_online_mode_sends_only_agreed_increments() -> None:
    proto = FunASRProtocol()
    configure(proto, mode="online")
    for hyp in ["换一", "换一首", "换一首哥", "换一首歌"]:
        proto.partial(hyp)
    proto.utterance_final("换一首歌", 0.2, 2.0, last=True)
    msgs = [json.loads(m) for m in proto.outgoing()]
    assert all(m["mode"] == "online" for m in msgs)
    assert "".join(m["text"] for m in msgs) == "换一首歌"
    assert [m["is_final"] for m in msgs] == [False] * (len(msgs) - 1) + [True]
    assert msgs[-1]["is_end"] is True


def test_2pass_mode_online_increments_then_offline_correction() -> None:
    proto = FunASRProtocol()
    configure(proto, mode="2pass")
    proto.partial("你好")
    proto.partial("你好世")
    proto.utterance_final("你好世界。", 0.0, 2.3)
    proto.partial("再见")
    proto.partial("再见")
    proto.utterance_final("再见。", 3.0, 4.0, last=True)
    msgs = [json.loads(m) for m in proto.outgoing()]
    assert [(m["mode"], m["text"], m["is_final"]) for m in msgs] == [
        ("2pass-online", "你好", False),
        ("2pass-offline", "你好世界。", False),
        ("2pass-online", "再见", False),
        ("2pass-offline", "再见。", True),
    ]
    assert msgs[1]["timestamp"] == "[[0, 2300]]"


def test_finish_without_speech_still_acknowledges() -> None:
    proto = FunASRProtocol()
    configure(proto, mode="2pass")
    proto.receive_text('{"is_speaking": false}')
    proto.finish()
    [msg] = map(json.loads, proto.outgoing())
    assert msg["is_final"] is True and msg["is_end"] is True and msg["text"] == ""


def test_online_final_completes_text_despite_spacing_differences() -> None:
    proto = FunASRProtocol()
    configure(proto, mode="online")
    for hyp in ["广州市", "广州市佛地产中间", "广州市佛地产中间"]:
        proto.partial(hyp)
    proto.utterance_final("广州市 佛地产 中间协会分析", 0.1, 3.8, last=True)
    text = "".join(json.loads(m)["text"] for m in proto.outgoing())
    assert text == "广州市佛地产中间协会分析"
    assert remainder("abcx", "abd") == "cx"


def test_common_prefix() -> None:
    assert common_prefix("abc", "abd") == "ab"
    assert common_prefix("", "x") == ""
