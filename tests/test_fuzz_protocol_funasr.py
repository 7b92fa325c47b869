"""Fuzzing the FunASR-compatible ``/v1/asr`` parser: no crash, bad input is a typed error."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tingshuo.engine.protocol.funasr import (
    AudioChunk,
    EndOfInput,
    FunASRError,
    FunASRProtocol,
    StreamConfig,
    common_prefix,
    parse_hotwords,
)

EXAMPLES = int(
    os.environ.get("FUZZ_EXAMPLES", "300" if os.environ.get("CI") else "60")
)  # CI: thorough
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
config_fields = st.sampled_from(
    [
        "mode",
        "wav_name",
        "wav_format",
        "audio_fs",
        "is_speaking",
        "chunk_size",
        "chunk_interval",
        "hotwords",
        "hotword",
        "itn",
        "encoder_chunk_look_back",
        "svs_lang",
    ]
) | st.text(max_size=10)
good_values = {
    "mode": st.sampled_from(["offline", "online", "2pass"]),
    "audio_fs": st.sampled_from([8000, 16000, 48000]),
    "chunk_size": st.just([5, 10, 5]),
    "is_speaking": st.booleans(),
}
config_objects = st.dictionaries(config_fields, json_values, max_size=8) | st.fixed_dictionaries(
    {}, optional={**good_values, "hotwords": json_values, "wav_format": json_values}
)
text_messages = (
    config_objects.map(lambda o: json.dumps(o, allow_nan=True))
    | json_values.map(lambda v: json.dumps(v, allow_nan=True))
    | st.text(max_size=200)
    | st.sampled_from(["", "{", "[" * 5000, '{"is_speaking": false}', '{"mode": "2pass"}'])
)
messages = st.one_of(text_messages, st.binary(max_size=3000))


def _feed(proto: FunASRProtocol, msg: str | bytes) -> list:
    commands = proto.receive_bytes(msg) if isinstance(msg, bytes) else proto.receive_text(msg)
    assert isinstance(commands, list)
    for cmd in commands:
        assert isinstance(cmd, StreamConfig | AudioChunk | EndOfInput | FunASRError), cmd
        if isinstance(cmd, FunASRError):
            assert isinstance(cmd.message, str) and cmd.message
        if isinstance(cmd, AudioChunk):
            assert cmd.samples.dtype.name == "float32"
            assert proto.config is not None and cmd.sample_rate == proto.config.audio_fs
    return commands


@FUZZ
@given(st.lists(messages, max_size=12))
def test_any_message_sequence_is_handled(seq: list[str | bytes]) -> None:
    proto = FunASRProtocol(max_frame_bytes=2048)
    for msg in seq:
        _feed(proto, msg)
    # Results can still be produced and serialized whatever state the fuzzing left.
    proto.partial("你好")
    proto.utterance_final("你好", 0.0, 1.0, last=True)
    proto.finish()
    proto.error("x")
    for out in proto.outgoing():
        assert isinstance(json.loads(out), dict)


@FUZZ
@given(st.binary(max_size=3000))
def test_audio_before_config_is_fatal(data: bytes) -> None:
    [cmd] = FunASRProtocol().receive_bytes(data)
    assert isinstance(cmd, FunASRError) and cmd.fatal


@FUZZ
@given(st.binary(max_size=3000))
def test_audio_after_config_is_decoded_or_refused(data: bytes) -> None:
    proto = FunASRProtocol(max_frame_bytes=2048)
    [config] = _feed(proto, json.dumps({"mode": "online", "audio_fs": 16000}))
    assert isinstance(config, StreamConfig)
    cmds = _feed(proto, data)
    if len(data) > 2048:
        assert isinstance(cmds[0], FunASRError) and cmds[0].fatal
    elif len(data) % 2:
        assert isinstance(cmds[0], FunASRError) and not cmds[0].fatal
    elif data:
        assert isinstance(cmds[0], AudioChunk) and cmds[0].samples.size == len(data) // 2


def test_deeply_nested_json_is_a_typed_error() -> None:
    for msg in ("[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        [cmd] = FunASRProtocol().receive_text(msg)
        assert isinstance(cmd, FunASRError)


@FUZZ
@given(json_values)
def test_parse_hotwords_always_gives_text(value: object) -> None:
    assert isinstance(parse_hotwords(value), str)


@FUZZ
@given(st.text(max_size=20), st.text(max_size=20))
def test_common_prefix(a: str, b: str) -> None:
    p = common_prefix(a, b)
    assert a.startswith(p) and b.startswith(p)
    assert len(p) == min(len(a), len(b)) or a[len(p)] != b[len(p)]
