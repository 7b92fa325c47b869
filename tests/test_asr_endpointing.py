"""Silero (default) and webrtcvad endpointing on real speech from ../shared/eval/asr-dev (no recognition model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tingshuo.asr.config import ASRConfig, EndpointConfig
from tingshuo.asr.endpointing import (
    EndpointConfigError,
    Endpointer,
    Offset,
    Onset,
    UtteranceAudio,
    sentence_looks_complete,
)
from tingshuo.core.audio import read_audio

SR = 16000
CLIP = "funasr_asr_example_zh.wav"  # 5.5 s of read speech
SPEECH_START = 0.96  # s: the clip's first second is room tone and breath, then speech


@pytest.fixture(scope="module")
def speech(asr_dev: Path) -> np.ndarray:
    return read_audio(asr_dev / "wav" / CLIP, SR).samples


def padded(speech: np.ndarray, before: float = 1.5, after: float = 1.5) -> np.ndarray:
    return np.concatenate(
        [np.zeros(int(before * SR), np.float32), speech, np.zeros(int(after * SR), np.float32)]
    )


def run(ep: Endpointer, signal: np.ndarray, chunk: int) -> list:
    events = []
    for i in range(0, len(signal), chunk):
        events += ep.feed(signal[i : i + chunk])
    return events + ep.flush()


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events if not isinstance(e, UtteranceAudio)]


def test_one_utterance_between_silences(speech: np.ndarray) -> None:
    events = run(Endpointer(EndpointConfig()), padded(speech), 320)
    assert kinds(events) == ["Onset", "Offset"]
    onset, offset = events[0], [e for e in events if isinstance(e, Offset)][0]
    # speech starts after the 1.5 s of silence and the clip's lead-in; pre-roll reaches back
    assert 1.5 + SPEECH_START - 0.6 <= onset.start <= 1.5 + SPEECH_START
    assert 1.5 + 0.8 * len(speech) / SR < offset.speech_end <= 1.5 + len(speech) / SR + 0.05
    assert offset.time - offset.speech_end == pytest.approx(0.6, abs=0.05)  # hangover
    assert not offset.forced
    audio = np.concatenate([e.samples for e in events if isinstance(e, UtteranceAudio)])
    assert len(audio) / SR == pytest.approx(offset.time - onset.start, abs=0.03)


def test_chunk_size_does_not_change_events(speech: np.ndarray) -> None:
    signal = padded(speech)
    reference = [
        e
        for e in run(Endpointer(EndpointConfig()), signal, 320)
        if not isinstance(e, UtteranceAudio)
    ]
    for chunk in (7, 160, 333, 4801, len(signal)):
        got = [
            e
            for e in run(Endpointer(EndpointConfig()), signal, chunk)
            if not isinstance(e, UtteranceAudio)
        ]
        assert got == reference


def test_silence_and_quiet_noise_open_nothing() -> None:
    rng = np.random.default_rng(0)
    assert run(Endpointer(EndpointConfig()), np.zeros(3 * SR, np.float32), 320) == []
    quiet = rng.normal(0, 0.001, 3 * SR).astype(np.float32)
    assert kinds(run(Endpointer(EndpointConfig(aggressiveness=3)), quiet, 320)) == []


def test_max_utterance_forces_endpoints(speech: np.ndarray) -> None:
    cfg = EndpointConfig(max_utterance_s=1.0)
    events = run(Endpointer(cfg), padded(speech), 320)
    offsets = [e for e in events if isinstance(e, Offset)]
    assert len(offsets) >= 3
    assert any(o.forced for o in offsets)
    onsets = [e for e in events if isinstance(e, Onset)]
    assert len(onsets) == len(offsets)


def test_two_utterances_split_by_a_pause(speech: np.ndarray) -> None:
    signal = np.concatenate([padded(speech, 0.5, 1.0), speech, np.zeros(SR, np.float32)])
    assert kinds(run(Endpointer(EndpointConfig()), signal, 320)) == ["Onset", "Offset"] * 2


def test_longer_hangover_bridges_the_pause(speech: np.ndarray) -> None:
    signal = np.concatenate([padded(speech, 0.5, 1.0), speech, np.zeros(2 * SR, np.float32)])
    cfg = EndpointConfig(min_silence_ms=2500)  # the pause: 1 s + the clip's ~1 s lead-in
    assert kinds(run(Endpointer(cfg), signal, 320)) == ["Onset", "Offset"]


def test_flush_closes_open_utterance(speech: np.ndarray) -> None:
    ep = Endpointer(EndpointConfig())
    events = ep.feed(padded(speech, 1.0, 0.0))
    assert ep.in_speech and kinds(events) == ["Onset"]
    assert kinds(ep.flush()) == ["Offset"]
    assert not ep.in_speech


@pytest.mark.parametrize(
    "cfg",
    [
        EndpointConfig(vad="webrtc", frame_ms=25),
        EndpointConfig(vad="webrtc", aggressiveness=4),
        EndpointConfig(vad="energy"),
        EndpointConfig(speech_threshold=1.2),
    ],
)
def test_bad_config_is_rejected(cfg: EndpointConfig) -> None:
    with pytest.raises(EndpointConfigError):
        Endpointer(cfg)


def test_webrtc_detector_still_available(speech: np.ndarray) -> None:
    events = run(Endpointer(EndpointConfig(vad="webrtc")), padded(speech), 320)
    assert kinds(events) == ["Onset", "Offset"]


@pytest.mark.parametrize("level", [0.01, 0.1])
def test_loud_noise_opens_nothing_with_silero(level: float) -> None:
    """webrtcvad calls loud broadband noise speech; the default detector does not."""
    noise = np.random.default_rng(1).normal(0, level, 4 * SR).astype(np.float32)
    assert kinds(run(Endpointer(EndpointConfig()), noise, 320)) == []


def test_speech_under_noise_still_opens(speech: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    rms = float(np.sqrt(np.mean(speech**2)))
    noisy = speech + rng.normal(0, rms / np.sqrt(10), len(speech)).astype(np.float32)  # 10 dB
    assert "Onset" in kinds(run(Endpointer(EndpointConfig()), padded(noisy), 320))


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("我想问一下我的订单到哪了", True),
        ("好的，谢谢。", True),
        ("你好你好", True),
        ("我想查一下，", False),
        ("因为我上周买的那个", False),
        ("我的订单号是二零二四然后", False),
        ("就是", False),
        ("", False),
    ],
)
def test_sentence_looks_complete(text: str, complete: bool) -> None:
    assert sentence_looks_complete(text) is complete


def test_shorter_hangover_closes_at_once_when_silence_is_long_enough(speech: np.ndarray) -> None:
    ep = Endpointer(EndpointConfig(min_silence_ms=800))
    events = ep.feed(padded(speech, 1.0, 0.0))
    while ep.trailing_silence < 0.4 * SR:  # silence under the hangover
        events += ep.feed(np.zeros(320, np.float32))
    assert kinds(events) == ["Onset"] and ep.in_speech
    assert ep.set_hangover_ms(1000) == []  # longer: still open
    closed = ep.set_hangover_ms(300)  # shorter than the silence so far: closes now
    assert [type(e).__name__ for e in closed] == ["Offset"] and not ep.in_speech
    assert ep.set_hangover_ms(300) == []  # nothing open: no event


def test_longer_hangover_holds_an_utterance_open(speech: np.ndarray) -> None:
    ep = Endpointer(EndpointConfig(min_silence_ms=600))
    assert kinds(ep.feed(padded(speech, 1.0, 0.0))) == ["Onset"]
    ep.set_hangover_ms(2000)
    assert kinds(ep.feed(np.zeros(SR, np.float32))) == []  # ≥ 1 s of silence: still open
    assert kinds(ep.feed(np.zeros(SR, np.float32))) == ["Offset"]


def test_speech_resets_a_changed_hangover(speech: np.ndarray) -> None:
    ep = Endpointer(EndpointConfig(min_silence_ms=600))
    ep.feed(padded(speech, 1.0, 0.0))
    ep.set_hangover_ms(2000)  # a decoded text trailed off …
    events = ep.feed(speech) + ep.feed(np.zeros(int(0.8 * SR), np.float32))
    assert kinds(events) == ["Offset"]  # … but the user spoke on: the default 600 ms again


def test_transcription_profile_keeps_a_short_pause_inside_one_segment(speech: np.ndarray) -> None:
    # the sentence twice with its lead-in cut from the second copy: a pause of ~0.9 s ends a
    # dialogue turn, a transcription stream's final waits for a long pause
    second = speech[int((SPEECH_START - 0.2) * SR) :]
    signal = np.concatenate([padded(speech, 0.5, 0.3), second, np.zeros(2 * SR, np.float32)])
    asr = ASRConfig()
    dialogue = run(Endpointer(asr.endpoint_for("dialogue")), signal, 320)
    transcription = run(Endpointer(asr.endpoint_for("transcription")), signal, 320)
    assert kinds(dialogue) == ["Onset", "Offset"] * 2
    assert kinds(transcription) == ["Onset", "Offset"]
    pause = next(e for e in dialogue if isinstance(e, Onset) and e.start > 2).start
    first_end = next(e for e in dialogue if isinstance(e, Offset)).speech_end
    assert 0.6 < pause - first_end + 0.3 < 1.2  # onset includes 300 ms of pre-roll
