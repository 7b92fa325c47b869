"""The /v1/dialog state machine, driven directly (no sockets)."""

from __future__ import annotations

import json

import numpy as np

from tingshuo.core.audio import float_to_pcm16
from tingshuo.engine.events import (
    BAD_AUDIO,
    BAD_MESSAGE,
    BAD_STATE,
    AudioIn,
    ErrorEvent,
    InputEnd,
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyPlayback,
    ReplyText,
    ReplyTextDelta,
    SessionClose,
    SessionStart,
    SessionStarted,
    TranscriptFinal,
    TranscriptPartial,
)
from tingshuo.engine.protocol.dialog import (
    AUDIO_HEADER_BYTES,
    DialogClientProtocol,
    DialogServerProtocol,
    State,
    decode_reply_audio,
    encode_reply_audio,
)


def start(proto: DialogServerProtocol, **fields: object) -> None:
    events = proto.receive_text(json.dumps({"type": "session.start", **fields}))
    assert isinstance(events[0], SessionStart), events


def test_session_start_negotiates_rates_voice_and_policy() -> None:
    proto = DialogServerProtocol()
    [ev] = proto.receive_text(
        json.dumps(
            {
                "type": "session.start",
                "token": "t0k",
                "sample_rate_in": 48000,
                "sample_rate_out": 16000,
                "voice": "jf_alpha",
                "emotion_policy": "mirror",
            }
        )
    )
    assert ev == SessionStart("t0k", 48000, 16000, "jf_alpha", "mirror", True)
    assert proto.state is State.OPEN
    pcm = float_to_pcm16(np.full(480, 0.5, dtype=np.float32))
    [audio] = proto.receive_bytes(pcm)
    assert isinstance(audio, AudioIn) and audio.sample_rate == 48000
    assert audio.duration_ms == 10.0
    np.testing.assert_allclose(audio.samples, 0.5, atol=1e-4)


def test_binary_before_start_is_a_fatal_typed_error() -> None:
    proto = DialogServerProtocol()
    [err] = proto.receive_bytes(b"\x00\x00")
    assert isinstance(err, ErrorEvent) and err.code == BAD_STATE and err.fatal
    assert proto.state is State.CLOSED
    assert proto.receive_text('{"type": "input.end"}') == []


def test_bad_messages_are_errors_and_the_session_goes_on() -> None:
    proto = DialogServerProtocol(max_frame_bytes=1000)
    start(proto)
    cases = [
        "not json",
        "[1, 2]",
        '{"type": "dance"}',
        '{"type": "reply.playback", "reply_id": "x", "played_ms": 3}',
        '{"type": "session.start"}',
    ]
    for text in cases:
        [err] = proto.receive_text(text)
        assert isinstance(err, ErrorEvent) and not err.fatal, text
        assert err.code in (BAD_MESSAGE, BAD_STATE)
    [odd] = proto.receive_bytes(b"\x01\x02\x03")
    assert isinstance(odd, ErrorEvent) and odd.code == BAD_AUDIO
    [big] = proto.receive_bytes(b"\x00" * 1002)
    assert isinstance(big, ErrorEvent) and big.code == BAD_AUDIO
    assert proto.state is State.OPEN
    assert proto.receive_text('{"type": "input.end"}') == [InputEnd()]
    assert proto.receive_text('{"type": "reply.playback", "reply_id": 2, "played_ms": 350.5}') == [
        ReplyPlayback(2, 350.5)
    ]
    assert proto.receive_text('{"type": "session.close", "reason": "bye"}') == [SessionClose("bye")]
    assert proto.state is State.CLOSED


def test_invalid_rates_and_policy_are_rejected() -> None:
    for bad in ({"sample_rate_in": 12345}, {"sample_rate_out": 7}, {"emotion_policy": "sarcastic"}):
        proto = DialogServerProtocol()
        [err] = proto.receive_text(json.dumps({"type": "session.start", **bad}))
        assert isinstance(err, ErrorEvent) and err.code == BAD_MESSAGE
        assert proto.state is State.AWAITING_START


def test_reply_audio_header_round_trip() -> None:
    pcm = float_to_pcm16(np.linspace(-1, 1, 240, dtype=np.float32))
    frame = encode_reply_audio(7, 3, pcm)
    assert len(frame) == AUDIO_HEADER_BYTES + len(pcm) == 12 + 480
    assert frame[:4] == bytes([1, 1, 0, 0])
    ev = decode_reply_audio(frame, 24000)
    assert (ev.reply_id, ev.seq, ev.pcm) == (7, 3, pcm)
    assert ev.duration_ms == 10.0


def test_barge_in_drops_only_queued_reply_events() -> None:
    proto = DialogServerProtocol()
    start(proto)
    proto.send(TranscriptPartial(1, "你好"))
    proto.send(ReplyTextDelta(1, "您好", "happy"))
    proto.send(ReplyText(1, "您好", "happy"))
    proto.send(ReplyAudio(1, 0, b"\x00\x00" * 10))
    proto.send(TranscriptFinal(2, "等一下", 0, 900))
    proto.send(ReplyAudio(1, 1, b"\x00\x00" * 10))
    proto.send(ReplyDone(1, 2, 1))
    assert proto.drop_reply(1) == 5
    proto.send(ReplyInterrupted(1, 0, 0, ""))
    out = proto.outgoing()
    assert [json.loads(m)["type"] for m in out] == [
        "transcript.partial",
        "transcript.final",
        "reply.interrupted",
    ]
    assert proto.outgoing() == []


def test_client_parses_every_server_message() -> None:
    server = DialogServerProtocol()
    client = DialogClientProtocol()
    start(server)
    sent = [
        SessionStarted("s1", 16000, 16000, "v", "empathetic"),
        TranscriptFinal(1, "换一首歌", 100, 2000),
        ReplyTextDelta(1, "好的，", "neutral", 0.8),
        ReplyAudio(1, 0, b"\x01\x00\x02\x00", 16000),
        ReplyInterrupted(1, 480, 240, "好的"),
        ErrorEvent("internal", "boom"),
    ]
    for ev in sent:
        server.send(ev)
    got = [client.parse(m) for m in server.outgoing()]
    assert got == sent
    assert client.sample_rate_out == 16000
    assert json.loads(client.session_start(SessionStart(voice="x")))["voice"] == "x"
