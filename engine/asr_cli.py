"""``tingshuo transcribe FILES... [--backend NAME] [--json] [--itn] [--hotwords W]``.

Each file is read with soundfile (wav/flac/ogg, and mp3 with libsndfile ≥ 1.1). A file that
cannot be read, is empty or fails to decode gets a one-line error on stderr and the others
still run; the exit status is 1 when any file failed. Files are decoded in groups of
``asr.whisper.batch_size`` through the recognizer's batched call where it has one (Whisper:
one encoder call and one beam search per group, the same text as one by one). With several files a tqdm progress bar
goes to stderr. ``--json`` prints one JSON object per file (JSON Lines) on stdout.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import click

from tingshuo.asr.base import Recognizer, Transcript
from tingshuo.asr.factory import UnknownBackendError, build_recognizer
from tingshuo.core.audio import Audio, AudioFormatError, read_audio
from tingshuo.core.errors import ModelNotFoundError
from tingshuo.engine.cli import get_config
from tingshuo.engine.config import cache_root, recognizer_config

log = logging.getLogger(__name__)


def transcript_json(path: str, transcript: Transcript, duration: float) -> str:
    """One JSON object for a file: ``file``, ``text``, ``segments``, ``duration``, ``flags``."""
    return json.dumps(
        {
            "file": path,
            "text": transcript.text,
            "segments": [asdict(s) for s in transcript.segments],
            "language": transcript.language,
            "duration": round(duration, 3),
            "flags": list(transcript.flags),
        },
        ensure_ascii=False,
    )


def _read(path: str) -> Audio:
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise AudioFormatError(f"audio {path} is empty (0 bytes)")
    audio = read_audio(path)
    if audio.duration == 0:
        raise AudioFormatError(f"audio {path} is empty")
    return audio


def _transcribe_group(
    recognizer: Recognizer, audios: list[Audio], *, itn: bool, hotwords: str
) -> list[Transcript | Exception]:
    """Transcripts of a group of files: one batched call where the backend has one.

    When the batched call fails, each file is decoded alone so one bad file fails alone.
    """
    batch_fn = getattr(recognizer, "transcribe_batch", None)
    if batch_fn is not None and len(audios) > 1:
        try:
            return list(batch_fn(audios, itn=itn, hotwords=hotwords))
        except Exception:
            log.debug("batched transcription failed; one by one", exc_info=True)
    out: list[Transcript | Exception] = []
    for audio in audios:
        try:
            out.append(recognizer.transcribe(audio, itn=itn, hotwords=hotwords))
        except Exception as exc:  # one bad file must not stop the others
            log.debug("transcribe failed", exc_info=True)
            out.append(exc)
    return out


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--backend", default=None, help="Recognizer: whisper (default) or paraformer.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file (JSON Lines).")
@click.option("--itn", is_flag=True, help="Digits for spoken numbers, dates, money.")
@click.option("--hotwords", default="", help="Words to favour (space separated; Paraformer).")
@click.pass_context
def transcribe(
    ctx: click.Context,
    files: tuple[str, ...],
    backend: str | None,
    as_json: bool,
    itn: bool,
    hotwords: str,
) -> None:
    """Transcribe Mandarin audio FILES to text."""
    config = get_config(ctx)
    try:
        recognizer = build_recognizer(recognizer_config(config), cache_root(config), backend)
    except UnknownBackendError as exc:
        raise click.BadParameter(str(exc), param_hint="--backend") from None
    except ModelNotFoundError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(2)
        return
    from tqdm import tqdm

    failed = 0
    group_size = max(1, config.asr.whisper.batch_size)
    bar = tqdm(total=len(files), unit="file", file=sys.stderr, disable=len(files) < 2, leave=False)
    for first in range(0, len(files), group_size):
        group: list[tuple[str, Audio]] = []
        for path in files[first : first + group_size]:
            try:
                group.append((path, _read(path)))
            except (AudioFormatError, OSError) as exc:
                failed += 1
                bar.write(f"error: {path}: {exc}", file=sys.stderr)
                bar.update()
        results = _transcribe_group(recognizer, [a for _, a in group], itn=itn, hotwords=hotwords)
        for (path, audio), result in zip(group, results, strict=True):
            bar.update()
            if isinstance(result, Exception):
                failed += 1
                bar.write(f"error: {path}: recognition failed: {result}", file=sys.stderr)
                continue
            if as_json:
                line = transcript_json(path, result, audio.duration)
            else:
                line = f"{path}\t{result.text}" if len(files) > 1 else result.text
            bar.write(line, file=sys.stdout)
    bar.close()
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) failed", err=True)
        ctx.exit(1)
