"""``tingshuo models``: which recognition and synthesis backends are ready, and where."""

from __future__ import annotations

import json

import click

from tingshuo.engine.cli import get_config
from tingshuo.engine.config import EngineConfig, cache_root


def _tts_rows(config: EngineConfig) -> list[dict]:
    """TTS backend rows (a broken status must not hide the ASR rows)."""
    from tingshuo.tts.factory import backend_status

    try:
        return [{"kind": "tts", **row} for row in backend_status(config.tts, cache_root(config))]
    except Exception as exc:  # a broken TTS status must not hide the ASR rows
        return [{"kind": "tts", "name": "?", "ready": False, "where": "", "detail": str(exc)}]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per backend.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """List speech recognition and synthesis backends, where their weights are, and readiness."""
    from tingshuo.asr.factory import backend_status

    config = get_config(ctx)
    rows = [
        {"kind": "asr", **row} for row in backend_status(config.asr, cache_root(config))
    ] + _tts_rows(config)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
            continue
        mark = "ready" if row["ready"] else "missing"
        default = config.asr.backend if row["kind"] == "asr" else getattr(config.tts, "backend", "")
        star = "*" if row["name"] == default else " "
        click.echo(f"{row['kind']:3} {star}{row['name']:<11} {mark:<8} {row['where'] or '-'}")
        if row["detail"]:
            click.echo(f"{'':17}{row['detail']}")
        if row.get("voices"):
            click.echo(f"{'':17}voices: {' '.join(row['voices'])}")
