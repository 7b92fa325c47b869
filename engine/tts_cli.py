"""``tingshuo say`` and ``tingshuo voices``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tingshuo.engine.cli import get_config
from tingshuo.engine.config import cache_root

_FORMATS = ("wav", "pcm")


def _load(ctx: click.Context, backend: str | None, model_dir: str | None):  # noqa: ANN202
    """Build the synthesizer, turning the known failures into one-line CLI errors."""
    from tingshuo.core.errors import ModelNotFoundError
    from tingshuo.tts.factory import (
        UnknownBackendError,
        build_synthesizer,
        with_model_dir,
    )

    config = get_config(ctx)
    name = backend or config.tts.backend
    try:
        tts = with_model_dir(config.tts, name, model_dir) if model_dir else config.tts
        return build_synthesizer(tts, cache_root(config), name, redis_url=config.redis_url)
    except (UnknownBackendError, ModelNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.argument("text", required=False)
@click.option(
    "-f",
    "--file",
    "text_file",
    type=click.File("r", encoding="utf-8"),
    help="Read the text (or SSML) from a file ('-' for stdin).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    help="Output file (.wav or .pcm), or '-' for stdout (raw PCM16, streamed per segment).",
)
@click.option(
    "--emotion",
    default="neutral",
    show_default=True,
    help="neutral, happy, angry, sad, fear, hate, surprise.",
)
@click.option(
    "--intensity", type=float, default=1.0, show_default=True, help="Emotion intensity 0–2."
)
@click.option(
    "--voice",
    default=None,
    help="Voice name (see `tingshuo voices`; native Mandarin zf_*/zm_* first) or an OpenAI "
    "name (alloy, echo, …).",
)
@click.option("--rate", type=float, default=1.0, show_default=True, help="Speaking-rate factor.")
@click.option(
    "--pitch", type=float, default=0.0, show_default=True, help="Pitch shift in semitones."
)
@click.option("--volume", type=float, default=1.0, show_default=True, help="Linear gain.")
@click.option("--backend", default=None, help="kokoro (default) or sambert.")
@click.option(
    "--model-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Model directory for the chosen backend.",
)
@click.option(
    "--sample-rate", type=int, default=None, help="Output rate in Hz (default: the model's)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    default=None,
    help="wav (16-bit) or pcm (raw 16-bit little-endian); default from the file name.",
)
@click.pass_context
def say(
    ctx: click.Context,
    text: str | None,
    text_file,  # noqa: ANN001 - click file
    output: str,
    emotion: str,
    intensity: float,
    voice: str | None,
    rate: float,
    pitch: float,
    volume: float,
    backend: str | None,
    model_dir: str | None,
    sample_rate: int | None,
    fmt: str | None,
) -> None:
    """Synthesize TEXT (plain text or SSML) to a 16-bit wav or raw PCM16 file."""
    from tingshuo.core.emotions import UnknownEmotionError, parse_emotion
    from tingshuo.tts.base import SSMLError, Style, UnknownVoiceError

    if (text is None) == (text_file is None):
        raise click.UsageError("give the text either as an argument or with -f FILE")
    content = text if text is not None else text_file.read()
    if not content.strip():
        raise click.UsageError("the text is empty")
    if sample_rate is not None and not 8000 <= sample_rate <= 192000:
        raise click.BadParameter("must be between 8000 and 192000 Hz", param_hint="--sample-rate")
    try:
        style = Style(parse_emotion(emotion), intensity, rate, pitch, volume)
    except (UnknownEmotionError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    fmt = fmt or ("pcm" if output == "-" or output.lower().endswith((".pcm", ".raw")) else "wav")
    synth = _load(ctx, backend, model_dir)
    if output == "-" and fmt == "pcm":
        _stream_to_stdout(synth, content, style, voice, sample_rate)
        return
    try:
        audio = synth.synthesize(content, style, voice)
    except (SSMLError, UnknownVoiceError) as exc:
        raise click.ClickException(str(exc)) from None
    if len(audio.samples) == 0:
        raise click.ClickException("nothing to say: the text has no speakable characters")
    audio = audio.resample(sample_rate) if sample_rate else audio
    data = audio.to_wav_bytes() if fmt == "wav" else audio.to_pcm16()
    if output == "-":  # wav to stdout
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    Path(output).write_bytes(data)
    resolve = getattr(synth, "resolve_voice", None)  # OpenAI names → the voice they map to
    spoken = resolve(voice) if resolve is not None else voice or synth.voices()[0].name
    click.echo(
        f"wrote {output}: {audio.duration:.2f} s, {audio.sample_rate} Hz, 16-bit {fmt} "
        f"({synth.name}, voice {spoken}, {style.emotion} {style.intensity:g})",
        err=True,
    )


def _stream_to_stdout(synth, text: str, style, voice: str | None, rate: int | None) -> None:  # noqa: ANN001
    """Raw PCM16 on stdout, written segment by segment as synthesis goes."""
    import asyncio

    from tingshuo.tts.base import SSMLError, UnknownVoiceError
    from tingshuo.tts.output import pcm16_stream

    async def run() -> None:
        async for data in pcm16_stream(synth.stream(text, style, voice), rate):
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    try:
        asyncio.run(run())
    except (SSMLError, UnknownVoiceError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--backend", default=None, help="kokoro (default) or sambert.")
@click.option("--model-dir", default=None, type=click.Path(file_okay=False))
@click.pass_context
def voices(ctx: click.Context, backend: str | None, model_dir: str | None) -> None:
    """List the voices of a synthesizer backend (default voice first)."""
    synth = _load(ctx, backend, model_dir)
    for i, v in enumerate(synth.voices()):
        mark = " (default)" if i == 0 else ""
        gender = f", {v.gender}" if getattr(v, "gender", "") else ""
        desc = f"  {v.description}" if v.description else ""
        click.echo(f"{v.name}\t{v.language}{gender}{mark}{desc}")
