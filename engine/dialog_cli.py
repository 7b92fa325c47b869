"""``tingshuo emotion [FILES...] [--text T] [--same-speaker] [--json]``: emotion + reply style.

Each recording is recognised once (Whisper by default): the transcript is the text (unless
``--text`` is given) and the same encoder pass feeds the speech branch. ``--same-speaker``
treats the FILES as one speaker's utterances and normalises each against all of them;
otherwise each file is read against the corpus statistics (the average training speaker).
Unusable audio gets a typed error: ``bad_audio`` (unreadable / wrong format),
``silent_audio``, ``too_short_audio``; the command then exits with status 1.
"""

from __future__ import annotations

import json
from typing import Any

import click


def _error_code(exc: Exception) -> str:
    from tingshuo.core.errors import AudioFormatError
    from tingshuo.dialog.bridge import SilentAudioError, TooShortAudioError

    if isinstance(exc, SilentAudioError):
        return "silent_audio"
    if isinstance(exc, TooShortAudioError):
        return "too_short_audio"
    if isinstance(exc, AudioFormatError):
        return "bad_audio"
    return "empty_input"


def _print(label: str, result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"input": label, **result}, ensure_ascii=False))
        return
    dist = ", ".join(f"{e} {p:.2f}" for e, p in result["distribution"].items())
    style = result["reply_style"]
    heard = f" [{result['transcript']}]" if result.get("transcript") else ""
    if result["uncertain"]:  # below the bridge's threshold: treated as neutral; say the best guess
        best, p = next(iter(result["distribution"].items()))
        verdict = f"uncertain, treated as {result['emotion']} (best guess {best} {p:.2f}"
    else:
        verdict = f"{result['emotion']} (confidence {result['confidence']:.2f}"
    click.echo(
        f"{label}: {verdict}, {result['source']}){heard}\n  {dist}\n"
        f"  -> reply {style['emotion']} x{style['intensity']:.1f}"
    )


def _fail(label: str, exc: Exception, as_json: bool) -> None:
    code = _error_code(exc)
    if as_json:
        click.echo(
            json.dumps(
                {"input": label, "error": {"code": code, "message": str(exc)}}, ensure_ascii=False
            )
        )
    else:
        click.echo(f"{label}: error ({code}): {exc}", err=True)


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--text", "-t", default=None, help="The utterance's text (alone, or with each file).")
@click.option(
    "--same-speaker", is_flag=True, help="FILES are one speaker: normalise against all of them."
)
@click.option("--no-asr", is_flag=True, help="Do not recognise the audio (prosody-only speech).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def emotion(
    ctx: click.Context,
    files: tuple[str, ...],
    text: str | None,
    same_speaker: bool,
    no_asr: bool,
    as_json: bool,
) -> None:
    """Estimate the emotion of audio FILES and/or --text, fused when both are given."""
    from tingshuo.asr.factory import build_recognizer
    from tingshuo.core.audio import AudioFormatError, read_audio
    from tingshuo.core.errors import ModelNotFoundError
    from tingshuo.dialog.bridge import EmotionInputError
    from tingshuo.dialog.checkpoint import CheckpointError
    from tingshuo.dialog.factory import build_bridge
    from tingshuo.dialog.service import analyze, analyze_same_speaker
    from tingshuo.engine.cli import get_config
    from tingshuo.engine.config import cache_root

    if not files and not text:
        raise click.UsageError("give audio FILES, --text, or both")
    config = get_config(ctx)
    try:
        bridge = build_bridge(config.dialog)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    recognizer = None
    if files and not no_asr:
        try:
            recognizer = build_recognizer(config.asr, cache_root(config))
        except ModelNotFoundError as exc:
            click.echo(f"warning: no recognizer ({exc}); speech read from prosody only", err=True)
    if not files:
        _print("text", analyze(bridge, None, text), as_json)
        return
    audios, failed = [], False
    for path in files:
        try:
            audios.append((path, read_audio(path)))
        except AudioFormatError as exc:
            _fail(path, exc, as_json)
            failed = True
    if same_speaker:
        try:
            results = analyze_same_speaker(bridge, [a for _, a in audios], text, recognizer)
        except EmotionInputError as exc:
            _fail("same-speaker", exc, as_json)
            ctx.exit(1)
        for (path, _), result in zip(audios, results, strict=True):
            _print(path, result, as_json)
    else:
        for path, audio in audios:
            try:
                _print(path, analyze(bridge, audio, text, recognizer), as_json)
            except EmotionInputError as exc:
                _fail(path, exc, as_json)
                failed = True
    if failed:
        ctx.exit(1)
