"""Encode synthesized audio for HTTP clients: the OpenAI ``response_format`` set.

``wav`` and ``pcm`` are written by :class:`~tingshuo.core.audio.Audio` itself; ``mp3``
(LAME), ``opus`` (libopus in Ogg), ``aac`` (ADTS) and ``flac`` go through PyAV, the FFmpeg
binding faster-whisper already depends on. Everything is encoded in memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from tingshuo.core.audio import Audio

OPENAI_RATE = 24000  # Hz: OpenAI's speech output rate (and what ``pcm`` promises)


@dataclass(frozen=True)
class AudioFormat:
    """One output format: its media type, file extension and (for PyAV) container + codec."""

    name: str
    media_type: str
    extension: str
    container: str = ""
    codec: str = ""


FORMATS: dict[str, AudioFormat] = {
    f.name: f
    for f in (
        AudioFormat("mp3", "audio/mpeg", "mp3", "mp3", "libmp3lame"),
        AudioFormat("opus", "audio/ogg", "ogg", "ogg", "libopus"),
        AudioFormat("aac", "audio/aac", "aac", "adts", "aac"),
        AudioFormat("flac", "audio/flac", "flac", "flac", "flac"),
        AudioFormat("wav", "audio/wav", "wav"),
        AudioFormat("pcm", "audio/pcm", "pcm"),
    )
}


def encode(audio: Audio, fmt: str) -> tuple[bytes, str]:
    """``audio`` as ``fmt`` (a key of :data:`FORMATS`); returns (bytes, media type).

    ``pcm`` is 24 kHz s16le mono as OpenAI's; the compressed formats are encoded at 24 kHz
    (a rate every one of their codecs accepts); ``wav`` and ``flac`` keep the model's rate.
    Raises ``KeyError`` for an unknown format.
    """
    spec = FORMATS[fmt]
    if fmt == "wav":
        return audio.to_wav_bytes(), spec.media_type
    if fmt == "pcm":
        return audio.resample(OPENAI_RATE).to_pcm16(), spec.media_type
    if fmt != "flac":
        audio = audio.resample(OPENAI_RATE)
    return _encode_av(audio, spec), spec.media_type


def _encode_av(audio: Audio, spec: AudioFormat) -> bytes:
    import av  # imported on first use: only these formats need FFmpeg
    from av.audio.stream import AudioStream

    pcm = (np.clip(audio.samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=spec.container) as out:
        stream = out.add_stream(spec.codec, rate=audio.sample_rate)
        assert isinstance(stream, AudioStream)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = audio.sample_rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
