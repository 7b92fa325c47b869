"""VadRecognizerStream: input formats, resampling, event order, state (decoder stubbed out).

The decoder here only records what audio it was given, so the stream's own logic is tested
quickly; real-model streaming is covered in test_asr_whisper_backend / test_asr_paraformer_backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tingshuo.asr.base import (
    FinalResult,
    PartialResult,
    RecognizerStream,
    Segment,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from tingshuo.asr.config import EndpointConfig
from tingshuo.asr.streaming import VadRecognizerStream, to_float_samples
from tingshuo.core.audio import SUPPORTED_INPUT_RATES, AudioFormatError, read_audio


class RecordingDecoder:
    """Partial every 0.5 s of audio; the 'text' is the audio length in ms."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.done = 0

    def partial_due(self, n: int, trailing_silence: int = 0) -> bool:
        return n - self.done >= 8000

    def partial(self, samples: np.ndarray) -> str:
        self.done = len(samples)
        self.log.append(("partial", len(samples)))
        return f"{len(samples) // 16}ms"

    def final(self, samples: np.ndarray, speech_samples: int | None = None) -> Transcript:
        self.log.append(("final", len(samples)))
        self.log.append(("speech", speech_samples))
        dur = len(samples) / 16000
        return Transcript(f"{len(samples) // 16}ms", (Segment(0.0, dur, "x"),))


@pytest.fixture(scope="module")
def clip(asr_dev: Path):
    return read_audio(asr_dev / "wav" / "funasr_asr_example_zh.wav")


def make_stream(log: list, **endpoint) -> VadRecognizerStream:
    return VadRecognizerStream(lambda: RecordingDecoder(log), EndpointConfig(**endpoint))


def drive(stream: VadRecognizerStream, rate: int, signal, frame_s: float = 0.02) -> list:
    events: list = []
    step = int(rate * frame_s)
    if isinstance(signal, bytes):
        step *= 2
    for i in range(0, len(signal), step):
        events += stream.accept_waveform(rate, signal[i : i + step])
        if stream.is_ready:
            events += stream.decode()
    stream.input_finished()
    return events + stream.decode()


def with_silence(samples: np.ndarray, rate: int, pad: float = 1.5) -> np.ndarray:
    sil = np.zeros(int(pad * rate), np.float32)
    return np.concatenate([sil, samples, sil])


def test_stream_satisfies_protocol() -> None:
    assert isinstance(make_stream([]), RecognizerStream)


@pytest.mark.parametrize("rate", SUPPORTED_INPUT_RATES)
def test_every_supported_rate_gives_one_utterance(clip, rate: int) -> None:
    log: list = []
    signal = with_silence(clip.resample(rate).samples, rate)
    events = drive(make_stream(log), rate, signal)
    types = [type(e) for e in events]
    assert types[0] is SpeechStarted and types.count(FinalResult) == 1
    assert types.index(SpeechStopped) < types.index(FinalResult)
    assert PartialResult in types[: types.index(FinalResult)]
    final = next(e for e in events if isinstance(e, FinalResult))
    # utterance audio is 16 kHz and covers the speech (5.5 s) plus pre-roll and hangover
    assert final.audio.sample_rate == 16000
    assert 5.0 < final.audio.duration < 7.0
    # the clip's speech begins ~0.96 s in (after 1.5 s of padding); pre-roll 0.3 s
    assert 1.5 < final.start < 2.5 and 6.5 < final.end < 7.2
    # transcript segment times are shifted to stream time
    assert final.transcript.segments[0].start == pytest.approx(final.start)


def test_pcm16_bytes_are_accepted(clip) -> None:
    log: list = []
    pcm = clip.resample(24000)
    signal = with_silence(pcm.samples, 24000)
    events = drive(make_stream(log), 24000, np.round(signal * 32767).astype("<i2").tobytes())
    assert [type(e) for e in events].count(FinalResult) == 1


def test_partials_are_rate_limited_and_grow(clip) -> None:
    log: list = []
    drive(make_stream(log), 16000, with_silence(clip.samples, 16000), frame_s=0.01)
    partial_sizes = [n for kind, n in log if kind == "partial"]
    assert len(partial_sizes) >= 5
    assert all(b - a >= 8000 for a, b in zip(partial_sizes, partial_sizes[1:], strict=False))
    assert log[-2][0] == "final"
    # the decoder is told where speech ended: the audio after it is the 600 ms hangover
    final_len, speech = log[-2][1], log[-1][1]
    assert final_len - speech == pytest.approx(0.6 * 16000, abs=320)


def test_result_and_endpoint_state(clip) -> None:
    log: list = []
    stream = make_stream(log)
    stream.accept_waveform(16000, with_silence(clip.samples, 16000, 1.0)[: 3 * 16000])
    assert not stream.is_endpoint
    stream.decode()
    assert stream.result.endswith("ms")
    stream.accept_waveform(16000, np.zeros(16000, np.float32))
    assert stream.is_endpoint and stream.result == ""
    stream.reset()
    assert not stream.is_endpoint and not stream.is_ready and stream.decode() == []


def test_input_finished_closes_open_utterance(clip) -> None:
    log: list = []
    stream = make_stream(log)
    events = stream.accept_waveform(16000, with_silence(clip.samples, 16000, 1.0)[: 4 * 16000])
    assert [type(e) for e in events] == [SpeechStarted]
    stream.input_finished()
    assert stream.is_ready
    out = stream.decode()
    assert [type(e) for e in out][:1] == [SpeechStopped] and isinstance(out[-1], FinalResult)


def test_rate_change_mid_stream(clip) -> None:
    log: list = []
    stream = make_stream(log)
    a = with_silence(clip.resample(48000).samples, 48000)
    b = with_silence(clip.resample(8000).samples, 8000)
    events = drive(stream, 48000, a[: len(a) // 2])
    stream2_events = []
    for i in range(len(a) // 2, len(a), 960):
        stream2_events += stream.accept_waveform(48000, a[i : i + 960])
    for i in range(0, len(b), 160):
        stream2_events += stream.accept_waveform(8000, b[i : i + 160])
    stream.input_finished()
    stream2_events += stream.decode()
    assert [type(e) for e in events + stream2_events].count(FinalResult) >= 2


def test_bad_input_is_a_typed_error() -> None:
    stream = make_stream([])
    with pytest.raises(AudioFormatError, match="sample rate"):
        stream.accept_waveform(11025, np.zeros(100, np.float32))
    with pytest.raises(AudioFormatError, match="even number"):
        stream.accept_waveform(16000, b"\x00\x01\x02")
    with pytest.raises(AudioFormatError, match="NaN"):
        stream.accept_waveform(16000, np.array([0.0, np.nan], np.float32))
    with pytest.raises(AudioFormatError, match="mono"):
        stream.accept_waveform(16000, np.zeros((2, 10), np.float32))


def test_to_float_samples_formats() -> None:
    assert to_float_samples(np.array([16384], np.int16))[0] == pytest.approx(0.5)
    assert to_float_samples(b"\x00\x40")[0] == pytest.approx(0.5)
    assert to_float_samples(np.array([0.25], np.float64)).dtype == np.float32


class PrefetchingDecoder(RecordingDecoder):
    """Decodes once the trailing silence reaches 100 ms, as Whisper's prefetch does, and says
    whether that text reads as complete."""

    def __init__(self, log: list, complete: bool) -> None:
        super().__init__(log)
        self.complete = complete
        self.voiced_end = 0
        self.prefetched_voiced_end = -1

    def partial_due(self, n: int, trailing_silence: int = 0) -> bool:
        self.voiced_end = n - trailing_silence
        return trailing_silence >= 1600 and self.prefetched_voiced_end != self.voiced_end

    def partial(self, samples: np.ndarray) -> str:
        self.prefetched_voiced_end = self.voiced_end
        return super().partial(samples)

    def looks_complete(self) -> bool:
        return self.complete


@pytest.mark.parametrize(("complete", "ends_within_s"), [(True, (0.25, 0.45)), (False, (1.1, 1.4))])
def test_decoded_text_sets_the_hangover(clip, complete: bool, ends_within_s) -> None:
    """A prefetched text that reads complete ends the utterance after early_silence_ms (here
    right after the decode); one that trails off waits incomplete_silence_ms."""
    log: list = []
    stream = VadRecognizerStream(
        lambda: PrefetchingDecoder(log, complete),
        EndpointConfig(min_silence_ms=700, early_silence_ms=300, incomplete_silence_ms=1200),
    )
    rate = clip.sample_rate
    signal = with_silence(clip.samples, rate, pad=2.0)
    step = rate // 50
    stopped_at = None
    events: list = []
    for i in range(0, len(signal), step):
        new = stream.accept_waveform(rate, signal[i : i + step])
        if stream.is_ready:
            new += stream.decode()
        if stopped_at is None and any(isinstance(e, SpeechStopped) for e in new):
            stopped_at = (i + step) / rate
        events += new
    finals = [e for e in events if isinstance(e, FinalResult)]
    assert len(finals) == 1 and stopped_at is not None
    silence = stopped_at - finals[0].end  # silence heard when the utterance was closed
    assert ends_within_s[0] <= silence <= ends_within_s[1]
