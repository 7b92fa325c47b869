"""Synthesis output: 16-bit WAV at any rate, and a raw PCM16 stream from ``stream()``.

Streamed chunks are resampled with one continuous soxr ``ResampleStream`` so chunk
boundaries leave no filter edge artefacts: the concatenated stream equals resampling
the whole utterance at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from tingshuo.core.audio import Audio, float_to_pcm16

__all__ = ["wav_bytes", "pcm16_stream"]


def wav_bytes(audio: Audio, sample_rate: int | None = None) -> bytes:
    """A mono 16-bit PCM WAV file of ``audio``, resampled to ``sample_rate`` if given."""
    return audio.to_wav_bytes(sample_rate)


async def pcm16_stream(
    chunks: AsyncIterator[Audio], sample_rate: int | None = None
) -> AsyncIterator[bytes]:
    """Little-endian PCM16 bytes for each synthesized chunk, at ``sample_rate``.

    Chunks must share one sample rate. With resampling, a chunk's bytes can be a few
    milliseconds behind its audio (the filter delay); the remainder comes with the last
    chunk, so no sample is lost.
    """
    resampler = None
    src_rate = None
    async for chunk in chunks:
        if src_rate is None:
            src_rate = chunk.sample_rate
            if sample_rate and sample_rate != src_rate:
                import soxr

                resampler = soxr.ResampleStream(src_rate, sample_rate, 1, dtype="float32")
        elif chunk.sample_rate != src_rate:
            raise ValueError(
                f"mixed sample rates in one stream: {src_rate} and {chunk.sample_rate}"
            )
        samples = chunk.samples.astype(np.float32, copy=False)
        if resampler is not None:
            samples = resampler.resample_chunk(samples)
        if len(samples):
            yield float_to_pcm16(samples)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if len(tail):
            yield float_to_pcm16(tail)
