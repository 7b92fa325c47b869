"""Fuzzing the ``/v1/dialog`` parsers: no input crashes them, bad input is a typed error.

Bounded for CI: a fixed number of examples per property (``FUZZ_EXAMPLES`` env to raise it
for a longer local run), no deadline (the machine is shared and loaded).
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tingshuo.engine.events import (
    BAD_AUDIO,
    BAD_MESSAGE,
    BAD_STATE,
    AudioIn,
    ErrorEvent,
    SessionStart,
)
from tingshuo.engine.protocol.dialog import (
    DialogClientProtocol,
    DialogServerProtocol,
    ProtocolError,
    State,
    decode_reply_audio,
    encode_reply_audio,
)

EXAMPLES = int(
    os.environ.get("FUZZ_EXAMPLES", "300" if os.environ.get("CI") else "60")
)  # CI: thorough
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ERROR_CODES = {BAD_MESSAGE, BAD_STATE, BAD_AUDIO}
CLIENT_TYPES = ["session.start", "input.end", "reply.playback", "session.close"]

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
field_names = st.sampled_from(
    [
        "type",
        "token",
        "sample_rate_in",
        "sample_rate_out",
        "voice",
        "emotion_policy",
        "reply",
        "reply_id",
        "played_ms",
        "reason",
    ]
) | st.text(max_size=12)
# Objects that look like client messages: a (mostly) valid type and fields of any type.
message_objects = st.builds(
    lambda t, extra: {"type": t, **extra},
    st.sampled_from(CLIENT_TYPES) | st.text(max_size=20),
    st.dictionaries(field_names, json_values, max_size=6),
)
text_messages = (
    message_objects.map(lambda o: json.dumps(o, allow_nan=True))
    | json_values.map(lambda v: json.dumps(v, allow_nan=True))
    | st.text(max_size=200)
    | st.sampled_from(["", "{", "[" * 5000, '{"type":' * 3000, "\ud800", "null", "1e999999"])
)
binary_messages = st.binary(max_size=4000)
messages = st.one_of(text_messages, binary_messages)
good_start = json.dumps({"type": "session.start", "sample_rate_in": 16000})


def _feed(proto: DialogServerProtocol, msg: str | bytes) -> list:
    state_before = proto.state
    events = proto.receive_bytes(msg) if isinstance(msg, bytes) else proto.receive_text(msg)
    assert isinstance(events, list)
    if state_before is State.CLOSED:
        assert events == []
    for event in events:
        if isinstance(event, ErrorEvent):
            assert event.code in ERROR_CODES, event
            assert isinstance(event.message, str) and event.message
            if event.fatal:
                assert proto.state is State.CLOSED
            # Every error event can be sent back to the client.
            json.loads(DialogServerProtocol.serialize(event))
    return events


@FUZZ
@given(st.lists(messages, max_size=12))
def test_server_never_crashes_on_any_message_sequence(seq: list[str | bytes]) -> None:
    proto = DialogServerProtocol(max_frame_bytes=2048)
    for msg in seq:
        _feed(proto, msg)


@FUZZ
@given(st.lists(messages, max_size=12))
def test_server_after_valid_start_never_crashes(seq: list[str | bytes]) -> None:
    proto = DialogServerProtocol(max_frame_bytes=2048)
    [start] = _feed(proto, good_start)
    assert isinstance(start, SessionStart) and proto.state is State.OPEN
    for msg in seq:
        _feed(proto, msg)


@FUZZ
@given(binary_messages)
def test_binary_before_start_is_a_fatal_typed_error(data: bytes) -> None:
    proto = DialogServerProtocol()
    [event] = proto.receive_bytes(data)
    assert isinstance(event, ErrorEvent) and event.code == BAD_STATE and event.fatal
    assert proto.state is State.CLOSED


@FUZZ
@given(st.binary(max_size=3000))
def test_audio_frames_are_decoded_or_refused(data: bytes) -> None:
    proto = DialogServerProtocol(max_frame_bytes=2048)
    _feed(proto, good_start)
    events = proto.receive_bytes(data)
    if len(data) > 2048 or len(data) % 2:
        [event] = events
        assert isinstance(event, ErrorEvent) and event.code == BAD_AUDIO and not event.fatal
    elif data:
        [event] = events
        assert isinstance(event, AudioIn) and event.samples.size == len(data) // 2
        assert event.sample_rate == 16000
    else:
        assert events == []
    assert proto.state is State.OPEN  # bad audio does not end the session


def test_deeply_nested_json_is_a_typed_error_not_a_recursion_crash() -> None:
    proto = DialogServerProtocol()
    for msg in (
        "[" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "[" * 900_000 + "]" * 900_000,
    ):
        [event] = proto.receive_text(msg)
        assert isinstance(event, ErrorEvent) and event.code == BAD_MESSAGE


@FUZZ
@given(st.one_of(text_messages, st.binary(max_size=64)))
def test_client_parser_raises_only_protocol_error(msg: str | bytes) -> None:
    client = DialogClientProtocol()
    try:
        client.parse(msg)
    except ProtocolError as exc:
        assert exc.code in ERROR_CODES


server_type_names = st.sampled_from(
    [
        "session.started",
        "speech.started",
        "speech.stopped",
        "transcript.partial",
        "transcript.final",
        "emotion",
        "reply.text",
        "reply.text.delta",
        "reply.done",
        "reply.interrupted",
        "error",
        "session.closed",
    ]
)


@FUZZ
@given(server_type_names, st.dictionaries(st.text(max_size=15), json_values, max_size=6))
def test_client_parser_on_server_shaped_garbage(kind: str, extra: dict) -> None:
    client = DialogClientProtocol()
    try:
        client.parse(json.dumps({"type": kind, **extra}, allow_nan=True))
    except ProtocolError as exc:
        assert exc.code in ERROR_CODES


@FUZZ
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=200))
def test_reply_audio_frames_round_trip(reply_id: int, seq: int, pcm: bytes) -> None:
    frame = decode_reply_audio(encode_reply_audio(reply_id, seq, pcm), 24000)
    assert (frame.reply_id, frame.seq, frame.pcm) == (reply_id, seq, pcm)


@FUZZ
@given(st.binary(max_size=40))
def test_reply_audio_decoder_refuses_garbage_with_protocol_error(data: bytes) -> None:
    try:
        decode_reply_audio(data, 24000)
    except ProtocolError as exc:
        assert exc.code == BAD_AUDIO
