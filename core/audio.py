"""Audio values and conversions shared by recognition and synthesis.

Samples are mono float32 in [-1, 1]; conversions to and from PCM16 and between sample
rates go through well-kept libraries (soundfile for I/O, soxr for resampling).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.core.errors import AudioFormatError

SUPPORTED_INPUT_RATES: tuple[int, ...] = (8000, 16000, 22050, 24000, 44100, 48000)
PCM16_MAX = 32768.0


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 1:
            raise AudioFormatError(f"audio must be mono 1-D, got shape {self.samples.shape}")
        if self.sample_rate <= 0:
            raise AudioFormatError(f"sample rate must be positive, got {self.sample_rate}")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    def resample(self, sample_rate: int) -> Audio:
        """This audio at ``sample_rate`` (soxr high quality); itself when already there."""
        if sample_rate == self.sample_rate:
            return self
        return Audio(resample(self.samples, self.sample_rate, sample_rate), sample_rate)

    def to_pcm16(self) -> bytes:
        """Little-endian signed 16-bit PCM bytes (clipped)."""
        return float_to_pcm16(self.samples)

    def to_wav_bytes(self, sample_rate: int | None = None) -> bytes:
        """A 16-bit PCM WAV file, optionally resampled first."""
        audio = self.resample(sample_rate) if sample_rate else self
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, audio.samples, audio.sample_rate, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    @staticmethod
    def concat(parts: list[Audio]) -> Audio:
        """Concatenate audio of one sample rate."""
        if not parts:
            raise AudioFormatError("nothing to concatenate")
        rates = {p.sample_rate for p in parts}
        if len(rates) != 1:
            raise AudioFormatError(f"mixed sample rates {sorted(rates)}")
        return Audio(
            np.concatenate([p.samples for p in parts]).astype(np.float32), parts[0].sample_rate
        )


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample mono float32 samples with soxr (VHQ for offline use)."""
    if src_rate == dst_rate:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples.astype(np.float32, copy=False), src_rate, dst_rate, quality="HQ")


class StreamResampler:
    """Resamples consecutive chunks of one audio stream to ``dst_rate`` seamlessly.

    One soxr ``ResampleStream`` carries its filter state across chunks, so there is no
    click or gap where chunks meet (resampling chunks one by one restarts the filter at every
    edge). The source rate is taken from the first chunk; ``last=True`` drains the filter, or
    :meth:`flush` when the last chunk was not known to be the last.
    """

    def __init__(self, dst_rate: int) -> None:
        self.dst_rate = dst_rate
        self._src_rate: int | None = None
        self._stream: Any = None

    def feed(self, audio: Audio, *, last: bool = False) -> np.ndarray:
        """The resampled samples of ``audio`` (and, with ``last``, the filter's tail)."""
        if self._src_rate is None:
            self._src_rate = audio.sample_rate
            if audio.sample_rate != self.dst_rate:
                import soxr

                self._stream = soxr.ResampleStream(
                    audio.sample_rate, self.dst_rate, 1, dtype="float32", quality="HQ"
                )
        elif audio.sample_rate != self._src_rate:
            raise AudioFormatError(
                f"stream changed sample rate {self._src_rate} -> {audio.sample_rate}"
            )
        samples = audio.samples.astype(np.float32, copy=False)
        if self._stream is None:
            return samples
        return np.asarray(self._stream.resample_chunk(samples, last=last), np.float32).reshape(-1)

    def flush(self) -> np.ndarray:
        """The filter's tail after the last chunk fed (empty when nothing needs draining)."""
        if self._stream is None:
            return np.zeros(0, np.float32)
        tail = self._stream.resample_chunk(np.zeros(0, np.float32), last=True)
        return np.asarray(tail, np.float32).reshape(-1)


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Decode little-endian PCM16 bytes; odd byte counts are an :class:`AudioFormatError`."""
    if len(data) % 2:
        raise AudioFormatError(f"PCM16 data must have an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_MAX


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """Encode float samples in [-1, 1] as little-endian PCM16 (clipped, rounded)."""
    scaled = np.clip(np.round(samples * PCM16_MAX), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def read_audio(source: str | Path | bytes, sample_rate: int | None = None) -> Audio:
    """Read a wav/flac/ogg/mp3 file (path or bytes), downmix to mono, optionally resample.

    Raises :class:`AudioFormatError` naming the source when it is unreadable or empty.
    """
    import soundfile as sf

    name = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else source
        data, rate = sf.read(handle, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError)
        raise AudioFormatError(f"cannot read audio {name}: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioFormatError(f"audio {name} is empty")
    audio = Audio(data.mean(axis=1).astype(np.float32), int(rate))
    return audio.resample(sample_rate) if sample_rate else audio


def write_wav(path: str | Path, audio: Audio, sample_rate: int | None = None) -> None:
    """Write 16-bit PCM WAV, resampling first when ``sample_rate`` is given."""
    Path(path).write_bytes(audio.to_wav_bytes(sample_rate))
