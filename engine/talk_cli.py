"""``tingshuo talk`` (microphone ↔ speaker) and ``tingshuo converse FILES...`` over /v1/dialog."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import click
import numpy as np

from tingshuo.core.audio import Audio, AudioFormatError, read_audio, write_wav
from tingshuo.engine.events import (
    ReplyAudio,
    ReplyInterrupted,
    ServerEvent,
    SessionStart,
    SpeechStartedEvent,
    TranscriptFinal,
)

DEFAULT_URL = "ws://127.0.0.1:8000/v1/dialog"


def _print_event(t0: float, now: float, event: ServerEvent) -> None:
    if isinstance(event, ReplyAudio):
        return
    from tingshuo.engine.protocol.dialog import DialogServerProtocol

    body = json.loads(DialogServerProtocol.serialize(event))
    click.echo(f"{now - t0:7.2f}s  {json.dumps(body, ensure_ascii=False)}")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", default=DEFAULT_URL, show_default=True, help="Engine /v1/dialog URL.")
@click.option(
    "--fast", is_flag=True, help="Send audio as fast as possible instead of in real time."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="replies",
    show_default=True,
    help="Where reply WAVs go.",
)
@click.option("--voice", default="", help="Voice for the replies.")
@click.option("--token", default="", envvar="TINGSHUO_TOKEN", help="Auth token for session.start.")
@click.option(
    "--pause",
    type=float,
    default=1.0,
    show_default=True,
    help="Silence after each file (s), so the VAD ends the turn.",
)
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for each reply."
)
def converse(
    files: tuple[str, ...],
    url: str,
    fast: bool,
    out_dir: str,
    voice: str,
    token: str,
    pause: float,
    timeout: float,
) -> None:
    """Stream wav FILES as one conversation, print the events, save reply audio."""
    try:
        clips = [read_audio(f, 16000) for f in files]
    except AudioFormatError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        asyncio.run(_converse(clips, url, fast, Path(out_dir), voice, token, pause, timeout))
    except OSError as exc:
        raise click.ClickException(f"cannot reach the engine at {url}: {exc}") from None


async def _converse(
    clips: list[Audio],
    url: str,
    fast: bool,
    out: Path,
    voice: str,
    token: str,
    pause: float,
    timeout: float,
) -> None:
    from tingshuo.engine.dialog_client import DialogClient

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    start = SessionStart(token=token, sample_rate_in=16000, sample_rate_out=24000, voice=voice)
    async with DialogClient(
        url, start, on_event=lambda now, ev: _print_event(t0, now, ev)
    ) as client:
        for clip in clips:
            finals_before = len(client.of(TranscriptFinal))
            last_reply = max(client.replies, default=0)
            padded = Audio(
                np.concatenate([clip.samples, np.zeros(int(pause * 16000), np.float32)]), 16000
            )
            await client.stream(padded, realtime=not fast)
            await client.input_end()
            try:
                await client.wait_for(TranscriptFinal, timeout, count=finals_before + 1)
                if client.of(TranscriptFinal)[-1].text:
                    await _finish_reply(client, last_reply, timeout, fast)
            except TimeoutError:
                click.echo(f"(no reply within {timeout:g} s)", err=True)
        for rid, rec in sorted(client.replies.items()):
            if rec.pcm:
                path = out / f"reply-{rid:03d}.wav"
                write_wav(path, rec.audio(24000))
                click.echo(f"saved {path} ({rec.audio(24000).duration:.2f} s): {rec.text}")


async def _finish_reply(client, last_reply: int, timeout: float, fast: bool) -> None:  # noqa: ANN001
    """Wait for the next reply to be sent, then "play" it: in real time, or at once with
    ``--fast``; report it as played so the next file does not barge in on it."""
    deadline = time.perf_counter() + timeout

    def pending():  # noqa: ANN202
        recs = [r for rid, r in client.replies.items() if rid > last_reply]
        return recs[0] if recs and (recs[0].done or recs[0].interrupted) else None

    while (rec := pending()) is None:
        if time.perf_counter() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.05)
    duration_ms = 1000.0 * sum(len(p) // 2 for p in rec.pcm) / 24000
    if not fast and rec.first_audio_at is not None:
        remaining = rec.first_audio_at + duration_ms / 1000 - time.perf_counter()
        if remaining > 0:
            await asyncio.sleep(remaining)
    await client.playback(rec.reply_id, duration_ms)


def _sounddevice():  # noqa: ANN202
    """Import sounddevice, or explain what is missing."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise click.ClickException(
            f"audio I/O is unavailable ({exc}). Install sounddevice (pip install sounddevice) and "
            "PortAudio (Debian/Ubuntu: apt-get install libportaudio2)."
        ) from None
    try:
        devices = sd.query_devices()
        sd.check_input_settings(samplerate=16000, channels=1)
        sd.check_output_settings(samplerate=24000, channels=1)
    except Exception as exc:  # PortAudioError and ValueError for "no device"
        count = len(devices) if "devices" in locals() else 0
        raise click.ClickException(
            f"no usable microphone/speaker ({count} audio device(s) found: {exc}). "
            "Connect one, or use `tingshuo converse FILES...` to talk with wav files."
        ) from None
    return sd


@click.command()
@click.option("--url", default=DEFAULT_URL, show_default=True, help="Engine /v1/dialog URL.")
@click.option("--voice", default="", help="Voice for the replies.")
@click.option("--token", default="", envvar="TINGSHUO_TOKEN", help="Auth token for session.start.")
def talk(url: str, voice: str, token: str) -> None:
    """Talk with the engine through the local microphone and speaker (Ctrl-C ends)."""
    sd = _sounddevice()
    try:
        asyncio.run(_talk(sd, url, voice, token))
    except KeyboardInterrupt:
        click.echo("bye")
    except OSError as exc:
        raise click.ClickException(f"cannot reach the engine at {url}: {exc}") from None


async def _talk(sd, url: str, voice: str, token: str) -> None:  # noqa: ANN001
    from tingshuo.engine.dialog_client import DialogClient

    loop = asyncio.get_running_loop()
    mic: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=500)
    speaker: list[np.ndarray] = []

    def on_mic(indata, frames, t, status) -> None:  # noqa: ANN001
        loop.call_soon_threadsafe(mic.put_nowait, indata[:, 0].copy())

    def on_speaker(outdata, frames, t, status) -> None:  # noqa: ANN001
        out = np.zeros(frames, np.float32)
        filled = 0
        while speaker and filled < frames:
            chunk = speaker[0]
            n = min(len(chunk), frames - filled)
            out[filled : filled + n] = chunk[:n]
            filled += n
            speaker[0] = chunk[n:]
            if not len(speaker[0]):
                speaker.pop(0)
        outdata[:, 0] = out

    def on_event(now: float, event: ServerEvent) -> None:
        if isinstance(event, ReplyAudio):
            speaker.append(np.frombuffer(event.pcm, "<i2").astype(np.float32) / 32768.0)
        elif isinstance(event, SpeechStartedEvent | ReplyInterrupted):
            speaker.clear()  # barge-in: stop talking at once
        if not isinstance(event, ReplyAudio):
            click.echo(
                json.dumps(
                    {
                        "event": type(event).__name__,
                        **{k: v for k, v in asdict(event).items() if k != "pcm"},
                    },
                    ensure_ascii=False,
                )
            )

    start = SessionStart(token=token, sample_rate_in=16000, sample_rate_out=24000, voice=voice)
    async with DialogClient(url, start, on_event=on_event) as client:
        with (
            sd.InputStream(
                samplerate=16000, channels=1, dtype="float32", blocksize=320, callback=on_mic
            ),
            sd.OutputStream(samplerate=24000, channels=1, dtype="float32", callback=on_speaker),
        ):
            click.echo("listening… (Ctrl-C to stop)", err=True)
            while client.closed is None:
                await client.send_audio(await mic.get())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(converse())
