"""Every ``response_format`` decodes with libsndfile (a decoder independent of FFmpeg/PyAV,
which encode) or PyAV for AAC, to the right length and a tone at the right pitch."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tingshuo.core.audio import Audio, read_audio
from tingshuo.engine.audio_encode import FORMATS, OPENAI_RATE, encode

RATE = 22050  # not 24 kHz: the compressed formats must resample


def _tone(seconds: float = 1.0) -> Audio:
    t = np.arange(int(seconds * RATE)) / RATE
    return Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)


def _pitch(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac"])
def test_compressed_formats_decode_with_libsndfile(fmt: str) -> None:
    import soundfile as sf

    data, media_type = encode(_tone(), fmt)
    assert media_type == FORMATS[fmt].media_type
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate in (RATE, OPENAI_RATE, 48000)  # Ogg Opus decodes at 48 kHz
    assert len(samples) / rate == pytest.approx(1.0, abs=0.08)
    assert _pitch(samples, rate) == pytest.approx(440, abs=5)


def test_aac_is_adts_and_decodes() -> None:
    import av

    data, media_type = encode(_tone(), "aac")
    assert media_type == "audio/aac" and data[:2] == b"\xff\xf1"  # ADTS sync word, MPEG-4
    with av.open(io.BytesIO(data)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    samples = np.concatenate(frames)
    assert rate == OPENAI_RATE
    assert len(samples) / rate == pytest.approx(1.0, abs=0.1)
    assert _pitch(samples, rate) == pytest.approx(440, abs=5)


def test_wav_and_pcm() -> None:
    wav, media_type = encode(_tone(), "wav")
    assert media_type == "audio/wav" and read_audio(wav).sample_rate == RATE
    pcm, media_type = encode(_tone(), "pcm")
    assert media_type == "audio/pcm" and len(pcm) == 2 * OPENAI_RATE


def test_unknown_format_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        encode(_tone(), "ogg-vorbis")
