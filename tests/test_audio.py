"""engine.audio: PCM16 round trips, resampling and file reading errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tingshuo.core.audio import Audio, AudioFormatError, pcm16_to_float, read_audio, write_wav


def _tone(rate: int, seconds: float = 1.0, hz: float = 440.0) -> Audio:
    t = np.arange(int(rate * seconds)) / rate
    return Audio((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)


def test_pcm16_round_trip() -> None:
    audio = _tone(16000)
    back = pcm16_to_float(audio.to_pcm16())
    assert np.max(np.abs(back - audio.samples)) < 1 / 32768 + 1e-6


def test_odd_pcm_is_an_error() -> None:
    with pytest.raises(AudioFormatError, match="even number"):
        pcm16_to_float(b"\x00\x01\x02")


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resample_keeps_duration_and_frequency(rate: int) -> None:
    out = _tone(rate).resample(16000)
    assert out.sample_rate == 16000
    assert abs(out.duration - 1.0) < 0.01
    spectrum = np.abs(np.fft.rfft(out.samples))
    assert abs(np.argmax(spectrum) * 16000 / len(out.samples) - 440) < 2


def test_wav_write_read(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    write_wav(path, _tone(24000), sample_rate=16000)
    audio = read_audio(path)
    assert audio.sample_rate == 16000 and abs(audio.duration - 1.0) < 0.01


def test_unreadable_and_empty(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(AudioFormatError, match="cannot read audio"):
        read_audio(junk)
    empty = tmp_path / "empty.wav"
    write_wav(empty, Audio(np.zeros(0, np.float32), 16000))
    with pytest.raises(AudioFormatError, match="empty"):
        read_audio(empty)
