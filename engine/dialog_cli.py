"""``tingshuo emotion [FILES...] [--text T] [--json]``: the user's emotion and the reply style."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--text", "-t", default=None, help="The utterance's text (alone, or with each file).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def emotion(ctx: click.Context, files: tuple[str, ...], text: str | None, as_json: bool) -> None:
    """Estimate the emotion of audio FILES and/or --text, fused when both are given."""
    from tingshuo.core.audio import AudioFormatError, read_audio
    from tingshuo.dialog.bridge import EmotionInputError
    from tingshuo.dialog.checkpoint import CheckpointError
    from tingshuo.dialog.factory import build_bridge
    from tingshuo.dialog.service import analyze
    from tingshuo.engine.cli import get_config

    if not files and not text:
        raise click.UsageError("give audio FILES, --text, or both")
    try:
        bridge = build_bridge(get_config(ctx).dialog)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    jobs: list[tuple[str, str | None]] = [(f, f) for f in files] or [("text", None)]
    failed = False
    for label, path in jobs:
        try:
            audio = read_audio(path) if path else None
            result = analyze(bridge, audio, text)
        except (AudioFormatError, EmotionInputError) as exc:
            click.echo(f"{label}: error: {exc}", err=True)
            failed = True
            continue
        if as_json:
            click.echo(json.dumps({"input": label, **result}, ensure_ascii=False))
            continue
        top = ", ".join(f"{e} {p:.2f}" for e, p in list(result["distribution"].items())[:3])
        style = result["reply_style"]
        click.echo(
            f"{label}: {result['emotion']} (confidence {result['confidence']:.2f}, {result['source']}; {top})"
            f" -> reply {style['emotion']} x{style['intensity']:.1f}"
        )
    if failed:
        ctx.exit(1)
