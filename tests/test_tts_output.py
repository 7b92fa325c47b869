"""tts.output: WAV at any rate; a continuous PCM16 stream equal to whole-utterance output."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
import soundfile as sf

from tingshuo.core.audio import Audio, pcm16_to_float, resample
from tingshuo.tts.output import pcm16_stream, wav_bytes


def _chunks() -> list[Audio]:
    rng = np.random.default_rng(0)
    sig = (0.3 * np.sin(2 * np.pi * 220 * np.arange(24000) / 24000)).astype(np.float32)
    sig += 0.01 * rng.standard_normal(24000).astype(np.float32)
    return [Audio(sig[:7001], 24000), Audio(sig[7001:15000], 24000), Audio(sig[15000:], 24000)]


async def _gen(chunks: list[Audio]):  # noqa: ANN202
    for c in chunks:
        yield c


def _collect(rate: int | None) -> bytes:
    async def run() -> bytes:
        return b"".join([b async for b in pcm16_stream(_gen(_chunks()), rate)])

    return asyncio.run(run())


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_wav_at_any_rate(rate: int) -> None:
    data = wav_bytes(Audio.concat(_chunks()), rate)
    info = sf.info(io.BytesIO(data))
    assert info.samplerate == rate and info.subtype == "PCM_16" and info.channels == 1
    assert info.duration == pytest.approx(1.0, abs=1e-3)


def test_stream_without_resampling_is_exact() -> None:
    whole = Audio.concat(_chunks())
    assert _collect(None) == whole.to_pcm16()


def test_resampled_stream_equals_whole_utterance() -> None:
    whole = Audio.concat(_chunks()).samples
    expected = resample(whole, 24000, 16000)
    got = pcm16_to_float(_collect(16000))
    assert len(got) == len(expected) == 16000
    assert np.max(np.abs(got - expected)) < 2 / 32768  # PCM16 rounding only


def test_mixed_rates_are_rejected() -> None:
    async def run() -> None:
        async for _ in pcm16_stream(
            _gen([Audio(np.zeros(10, np.float32), 24000), Audio(np.zeros(10, np.float32), 16000)])
        ):
            pass

    with pytest.raises(ValueError, match="mixed sample rates"):
        asyncio.run(run())
