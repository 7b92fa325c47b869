"""Encode synthesized audio for HTTP clients: the OpenAI ``response_format`` set.

``wav`` and ``pcm`` are written by :class:`~tingshuo.core.audio.Audio` itself; ``mp3``
(LAME), ``opus`` (libopus in Ogg), ``aac`` (ADTS) and ``flac`` go through PyAV, the FFmpeg
binding faster-whisper already depends on. Everything is encoded in memory.
"""

from __future__ import annotations

import contextlib
import io
import struct
from dataclasses import dataclass
from typing import Any

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


def wav_stream_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header for a stream of unknown length.

    The RIFF and data sizes are 0xFFFFFFFF (the usual "until the end" marker for streamed
    WAV); players and decoders read to the end of the body.
    """
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


class _Sink:
    """A write-only, non-seekable file for PyAV: what the muxer wrote since the last drain."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


class StreamEncoder:
    """Encode audio chunk by chunk for a streamed HTTP body, in any of :data:`FORMATS`.

    ``wav`` is a streaming header (unknown length) and 16-bit PCM at ``sample_rate`` (the
    model's, unless given); ``pcm`` is 24 kHz s16le; mp3, opus and aac are muxed as they
    are encoded (a non-seekable output, so no trailing index is patched in); flac is
    encoded whole at the end (its header needs the length). Each call
    returns the bytes ready to send. Blocking CPU work: call it off the event loop.
    """

    def __init__(self, fmt: str, sample_rate: int) -> None:
        self.spec = FORMATS[fmt]
        self.fmt = fmt
        if fmt == "pcm" or (fmt not in ("wav", "flac")):
            sample_rate = OPENAI_RATE
        self.sample_rate = sample_rate
        self._sink = _Sink()
        self._out: Any = None
        self._stream: Any = None
        self._started = False
        self._held: list[Audio] = []

    @property
    def media_type(self) -> str:
        """The body's media type."""
        return self.spec.media_type

    def feed(self, audio: Audio) -> bytes:
        """Bytes for one more chunk of audio (the first call also returns any header)."""
        audio = audio.resample(self.sample_rate)
        head = b""
        if not self._started:
            self._started = True
            if self.fmt == "wav":
                head = wav_stream_header(self.sample_rate)
        if self.fmt in ("wav", "pcm"):
            return head + audio.to_pcm16()
        if self.fmt == "flac":  # STREAMINFO (length, MD5) is only right when written whole
            self._held.append(audio)
            return b""
        return head + self._encode(audio)

    def finish(self) -> bytes:
        """The encoder's remaining bytes (flush) once the last chunk was fed."""
        if self.fmt == "wav" and not self._started:
            return self.feed_empty()
        if self.fmt == "flac":
            held, self._held = self._held, []
            return _encode_av(Audio.concat(held), self.spec) if held else b""
        if self._out is None:
            return b""
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()
        self._out = None
        return self._sink.drain()

    def feed_empty(self) -> bytes:
        """A header alone (a stream with no audio at all)."""
        self._started = True
        return wav_stream_header(self.sample_rate)

    def _encode(self, audio: Audio) -> bytes:
        import av
        from av.audio.stream import AudioStream

        if self._out is None:
            self._out = av.open(self._sink, mode="w", format=self.spec.container)
            stream = self._out.add_stream(self.spec.codec, rate=self.sample_rate)
            assert isinstance(stream, AudioStream)
            stream.layout = "mono"
            self._stream = stream
        if len(audio.samples):
            pcm = (np.clip(audio.samples, -1.0, 1.0) * 32767.0).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
            frame.sample_rate = self.sample_rate
            for packet in self._stream.encode(frame):
                self._out.mux(packet)
        return self._sink.drain()

    def close(self) -> None:
        """Release the encoder without flushing (the client went away)."""
        if self._out is not None:
            with contextlib.suppress(Exception):
                self._out.close()
            self._out = None
